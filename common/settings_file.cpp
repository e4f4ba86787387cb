#include "common/settings_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "common/unique_fd.h"

namespace cloudlink {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// Length of the well-formed UTF-8 character at text[i] (RFC 3629), 0 when there is none.
size_t utf8_length(std::string_view text, size_t i) {
  auto c = static_cast<unsigned char>(text[i]);
  if (c < 0x80) return 1;
  if (c < 0xc2 || c > 0xf4) return 0;
  size_t need = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
  if (i + need > text.size()) return 0;
  unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
  unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
  auto second = static_cast<unsigned char>(text[i + 1]);
  if (second < lo || second > hi) return 0;
  for (size_t k = 2; k < need; ++k) {
    auto next = static_cast<unsigned char>(text[i + k]);
    if (next < 0x80 || next > 0xbf) return 0;
  }
  return need;
}

// What is wrong with the characters of one line, or "" when nothing is.
std::string check_text(std::string_view line) {
  for (size_t i = 0; i < line.size();) {
    auto c = static_cast<unsigned char>(line[i]);
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      return "control character (byte " + std::to_string(c) + ") at column " +
             std::to_string(i + 1);
    }
    size_t length = utf8_length(line, i);
    if (length == 0) return "invalid UTF-8 at column " + std::to_string(i + 1);
    i += length;
  }
  return {};
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

Error at(std::string_view path, size_t line, const std::string& what) {
  return invalid(std::string(path) + ":" + std::to_string(line) + ": " + what);
}

}  // namespace

Result<SettingsFile> parse_settings(std::string_view text, std::string_view path) {
  if (text.size() > SettingsFile::kMaxFileBytes) {
    return invalid(std::string(path) + ": larger than " +
                   std::to_string(SettingsFile::kMaxFileBytes) + " bytes");
  }
  SettingsFile file;
  file.path = path;
  size_t number = 0;
  while (!text.empty()) {
    ++number;
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.size() > SettingsFile::kMaxLineBytes) {
      return at(path, number,
                "line longer than " + std::to_string(SettingsFile::kMaxLineBytes) + " bytes");
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (std::string problem = check_text(line); !problem.empty()) return at(path, number, problem);
    std::string_view content = trim(line);
    if (content.empty() || content.front() == '#') continue;
    size_t equals = content.find('=');
    std::string_view name = trim(content.substr(0, equals));
    if (equals == std::string_view::npos) {
      return at(path, number,
                "expected `name = value`, got \"" + std::string(name.substr(0, 64)) + "\"");
    }
    if (name.empty()) return at(path, number, "a setting needs a name before '='");
    if (name.size() > SettingsFile::kMaxNameBytes) {
      return at(path, number,
                "a name is at most " + std::to_string(SettingsFile::kMaxNameBytes) + " bytes");
    }
    for (char c : name) {
      if (!is_name_char(c)) {
        return at(path, number,
                  "key " + std::string(name) + ": a name is lower-case letters, digits, '-', '_'");
      }
    }
    if (file.entries.size() == SettingsFile::kMaxEntries) {
      return at(path, number,
                "more than " + std::to_string(SettingsFile::kMaxEntries) + " settings");
    }
    SettingsEntry entry;
    entry.name = name;
    for (char& c : entry.name) {
      if (c == '_') c = '-';
    }
    entry.value = trim(content.substr(equals + 1));
    entry.line = number;
    file.entries.push_back(std::move(entry));
  }
  return file;
}

Result<SettingsFile> read_settings_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) return errno_error(path);
  std::string text;
  char buffer[8192];
  while (true) {
    ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return errno_error(path);
    if (got == 0) break;
    text.append(buffer, static_cast<size_t>(got));
    if (text.size() > SettingsFile::kMaxFileBytes) {
      return invalid(path + ": larger than " + std::to_string(SettingsFile::kMaxFileBytes) +
                     " bytes");
    }
  }
  return parse_settings(text, path);
}

}  // namespace cloudlink
