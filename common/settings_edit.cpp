#include "common/settings_edit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <optional>

#include "common/settings_file.h"
#include "common/unique_fd.h"

namespace cloudlink {
namespace {

struct Line {
  std::string text;  // without '\n' (a '\r' kept)
  bool removed = false;
  std::vector<std::string> after;  // new lines inserted after this one
};

bool is_space(char c) { return c == ' ' || c == '\t'; }

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

std::string normalised(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c == '_') c = '-';
  }
  return out;
}

// The name of a `name = value` line starting at text[i], with the offset just past the name;
// nullopt when the text there is not one.
std::optional<std::pair<std::string, size_t>> name_at(std::string_view text, size_t i) {
  size_t start = i;
  while (i < text.size() && is_name_char(text[i])) ++i;
  if (i == start) return std::nullopt;
  size_t end = i;
  while (i < text.size() && is_space(text[i])) ++i;
  if (i == text.size() || text[i] != '=') return std::nullopt;
  return std::make_pair(normalised(text.substr(start, end - start)), end);
}

size_t skip_spaces(std::string_view text, size_t i) {
  while (i < text.size() && is_space(text[i])) ++i;
  return i;
}

// The setting on an active line, or nullopt for a comment or blank line.
std::optional<std::pair<std::string, size_t>> active_name(std::string_view line) {
  size_t i = skip_spaces(line, 0);
  if (i == line.size() || line[i] == '#') return std::nullopt;
  return name_at(line, i);
}

// The name of a commented-out example ("# name = value", "#name=value"), or "".
std::string example_name(std::string_view line) {
  size_t i = skip_spaces(line, 0);
  if (i == line.size() || line[i] != '#') return {};
  auto found = name_at(line, skip_spaces(line, i + 1));
  return found ? found->first : std::string();
}

Error bad_update(const SettingUpdate& update, const std::string& why) {
  return invalid("setting " + update.name + ": " + why);
}

Result<void> check_update(const SettingUpdate& update) {
  if (update.name.empty() || update.name.size() > SettingsFile::kMaxNameBytes) {
    return bad_update(update, "a name is 1 to 64 characters");
  }
  for (char c : update.name) {
    if (!is_name_char(c) || c == '_') return bad_update(update, "a name is [a-z0-9-]");
  }
  std::string_view value = update.value;
  if (!value.empty() && (is_space(value.front()) || is_space(value.back()))) {
    return bad_update(update, "a value does not start or end with a space");
  }
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return bad_update(update, "a value holds no control character or line break");
    }
  }
  return ok();
}

std::vector<Line> split_lines(std::string_view text, bool& ends_with_newline) {
  std::vector<Line> lines;
  ends_with_newline = text.empty() || text.back() == '\n';
  while (!text.empty()) {
    size_t end = text.find('\n');
    Line line;
    line.text = text.substr(0, end);
    lines.push_back(std::move(line));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  }
  return lines;
}

// Applies one update to lines; returns the line to append when no line takes it.
std::optional<std::string> apply(std::vector<Line>& lines, const SettingUpdate& update) {
  const std::string fresh = update.name + " = " + update.value;
  bool placed = false;
  std::optional<size_t> example;
  for (size_t i = 0; i < lines.size(); ++i) {
    Line& line = lines[i];
    if (auto name = active_name(line.text); name && name->first == update.name) {
      if (placed) {
        line.removed = true;
        continue;
      }
      // Keep the indentation and the name as written ("quota_homes"), then the new value.
      std::string edited = line.text.substr(0, name->second) + " = " + update.value;
      if (!line.text.empty() && line.text.back() == '\r') edited += '\r';
      line.text = std::move(edited);
      placed = true;
    } else if (example_name(line.text) == update.name) {
      example = i;
    }
  }
  if (placed) return std::nullopt;
  if (example) {
    lines[*example].after.push_back(fresh);
    return std::nullopt;
  }
  return fresh;
}

}  // namespace

Result<std::string> edit_settings(std::string_view text, std::string_view path,
                                  const std::vector<SettingUpdate>& updates,
                                  std::string_view heading) {
  auto parsed = parse_settings(text, path);
  if (!parsed) return parsed.error();
  for (const SettingUpdate& update : updates) {
    if (auto checked = check_update(update); !checked) return checked.error();
  }
  bool ends_with_newline = true;
  std::vector<Line> lines = split_lines(text, ends_with_newline);
  std::vector<std::string> appended;
  for (const SettingUpdate& update : updates) {
    if (auto line = apply(lines, update)) appended.push_back(std::move(*line));
  }
  std::string out;
  for (const Line& line : lines) {
    if (!line.removed) out += line.text + "\n";
    for (const std::string& after : line.after) out += after + "\n";
  }
  // A file without a final newline keeps it that way unless lines are added below it.
  if (!ends_with_newline && appended.empty() && !out.empty()) out.pop_back();
  if (!appended.empty()) {
    if (!out.empty() && !heading.empty()) out += "\n";
    if (!heading.empty()) out += std::string(heading) + "\n";
    for (const std::string& line : appended) out += line + "\n";
  }
  if (auto reread = parse_settings(out, path); !reread) return reread.error();
  return out;
}

Result<void> write_settings_file(const std::string& path, std::string_view text) {
  namespace fs = std::filesystem;
  fs::path target(path);
  fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::exists(folder, ec)) {
    fs::create_directories(folder, ec);
    if (ec) return Error(ec, "mkdir " + folder.string());
    ::chmod(folder.c_str(), 0755);
  }
  struct stat old {};
  const bool existed = ::stat(path.c_str(), &old) == 0;
  std::string temporary = path + ".tmp-" + std::to_string(::getpid());
  UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) return errno_error("create " + temporary);
  auto fail = [&](const std::string& what) {
    Error error = errno_error(what);
    ::unlink(temporary.c_str());
    return error;
  };
  for (size_t written = 0; written < text.size();) {
    ssize_t n = ::write(fd.get(), text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("write " + temporary);
    written += static_cast<size_t>(n);
  }
  const mode_t mode = existed ? (old.st_mode & 07777) : 0644;
  if (::fchmod(fd.get(), mode) != 0) return fail("chmod " + temporary);
  // Keep the owner of a file root made for a service's group (0640 root:cloudlink-control).
  if (existed && ::geteuid() == 0 && ::fchown(fd.get(), old.st_uid, old.st_gid) != 0) {
    return fail("chown " + temporary);
  }
  if (::fsync(fd.get()) != 0) return fail("fsync " + temporary);
  fd.reset();
  if (::rename(temporary.c_str(), path.c_str()) != 0) return fail("rename to " + path);
  UniqueFd dir(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir) ::fsync(dir.get());
  return ok();
}

}  // namespace cloudlink
