#include "control/sessions/session_spool.h"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "control/sessions/proc_parse.h"

namespace cloudlink::sessions {
namespace {

namespace fs = std::filesystem;

// An OpenSSH key blob is well under this (RSA 16384 is about 2.8 KB of base64).
constexpr size_t kMaxKey = 8192;

bool is_base64(std::string_view text) {
  if (text.empty() || text.size() > kMaxKey) return false;
  for (char c : text) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '=';
    if (!ok) return false;
  }
  return true;
}

template <typename T>
std::optional<T> decimal(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::string> read_file(const std::string& path, size_t cap) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text(cap + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > cap) return std::nullopt;
  return text;
}

}  // namespace

std::optional<SessionRecord> parse_session_record(std::string_view name, std::string_view text) {
  auto pid = decimal<int32_t>(name);
  if (!pid || *pid <= 1) return std::nullopt;
  if (text.empty() || text.back() != '\n') return std::nullopt;
  text.remove_suffix(1);
  size_t space = text.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  auto start = decimal<uint64_t>(text.substr(0, space));
  std::string_view key = text.substr(space + 1);
  if (!start || !is_base64(key)) return std::nullopt;
  return SessionRecord{static_cast<pid_t>(*pid), *start, std::string(key)};
}

Result<void> record_session(const std::string& dir, pid_t monitor, std::string_view key_base64,
                            const std::string& proc_root) {
  if (!is_base64(key_base64)) return invalid("sessions: not a key blob");
  auto stat_text = read_file(proc_root + "/" + std::to_string(monitor) + "/stat", 4096);
  auto stat = stat_text ? parse_proc_stat(*stat_text) : std::nullopt;
  if (!stat)
    return Error(ESRCH, "sessions: reading the stat of sshd pid " + std::to_string(monitor));
  const std::string name = std::to_string(monitor);
  const std::string tmp = dir + "/." + name + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return errno_error("sessions: writing " + tmp);
    out << stat->starttime << ' ' << key_base64 << '\n';
    out.flush();
    if (!out) return errno_error("sessions: writing " + tmp);
  }
  if (::rename(tmp.c_str(), (dir + "/" + name).c_str()) != 0) {
    return errno_error("sessions: renaming " + tmp);
  }
  return ok();
}

std::vector<SessionRecord> read_session_records(const std::string& dir) {
  std::vector<SessionRecord> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (!entry.is_regular_file(ec)) continue;
    auto text = read_file(entry.path().string(), kMaxKey + 32);
    if (!text) continue;
    if (auto record = parse_session_record(name, *text)) out.push_back(std::move(*record));
  }
  return out;
}

void forget_session(const std::string& dir, pid_t pid) {
  std::error_code ec;
  fs::remove(dir + "/" + std::to_string(pid), ec);
}

}  // namespace cloudlink::sessions
