// The settings file of a VPS program (/etc/cloudlink/PROGRAM.conf): one `name = value` a line,
// names as the program's flags (without the leading "--"; '_' and '-' are the same), '#'
// starts a comment line, blank lines are skipped. A flag given on the command line overrides
// the file (settings_cli.h feeds the entries to the same option parser as the flags).
//
// The reader is strict and treats every length as hostile: the file is at most kMaxFileBytes,
// a line at most kMaxLineBytes, at most kMaxEntries entries; a name is [a-z0-9_-], 1 to
// kMaxNameBytes; text is UTF-8 without control characters (a trailing '\r' is dropped); no
// value continues over lines and nothing is quoted (a value is the rest of the line, spaces
// around it trimmed). Any problem is one error naming the file, the line and the key.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cloudlink {

struct SettingsEntry {
  std::string name;  // as written, '_' turned into '-'
  std::string value;
  size_t line = 0;  // 1-based
};

struct SettingsFile {
  static constexpr size_t kMaxFileBytes = 64 * 1024;
  static constexpr size_t kMaxLineBytes = 4096;
  static constexpr size_t kMaxEntries = 256;
  static constexpr size_t kMaxNameBytes = 64;

  std::string path;
  std::vector<SettingsEntry> entries;  // in file order; a name may repeat (lists)
};

// Parses text (the file's contents) as read from path (used in error messages only).
Result<SettingsFile> parse_settings(std::string_view text, std::string_view path);
// Reads path (at most kMaxFileBytes) and parses it.
Result<SettingsFile> read_settings_file(const std::string& path);

}  // namespace cloudlink
