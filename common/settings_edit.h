// Changes a settings file (common/settings_file.h) the way an operator would by hand: the
// lines it sets are edited in place and every other line (comments, blank lines, other
// settings, their order and spelling) stays byte for byte, so the comments a package ships in
// /etc/cloudlink/*.conf survive `cloudlink-control init`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cloudlink {

struct SettingUpdate {
  std::string name;  // as the flag without "--": [a-z0-9-]
  std::string value;
};

// text with each update applied, in this order of preference:
//  * a name already set: its first line keeps its indentation and spelling and takes the new
//    value (a '\r' line ending stays); further lines of that name (a list) are removed;
//  * a name only in a commented-out example ("# name = ..."): a new line after the last one;
//  * otherwise a new line at the end, after `heading` (a comment line, written once, only
//    when something is appended; empty: none).
// text must parse (an error names path, line and key, and nothing is edited); a name or value
// that would not read back the same is refused. The result parses to the same entries plus
// the updates.
Result<std::string> edit_settings(std::string_view text, std::string_view path,
                                  const std::vector<SettingUpdate>& updates,
                                  std::string_view heading = {});

// Replaces path's contents with text atomically (a temporary file beside it, fsync, rename,
// fsync of the folder): a reader sees the old file or the new one, never half of one. An
// existing file keeps its mode and owner; a new one is 0644 in a folder made 0755 if missing.
Result<void> write_settings_file(const std::string& path, std::string_view text);

}  // namespace cloudlink
