// Diagnostics on stderr: one logfmt line each, written with a single write(2) so lines from
// several threads never interleave, and readable by journald, Loki or grep alike:
//
//   ts=2026-12-02T17:30:00.123Z level=warn prog=cloudlink-control msg="upkeep: ..."
//
// Not for the hot path: the dataplane's access log has its own writer.
#pragma once

#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace cloudlink {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

inline const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

inline const char*& log_program_name() {
  static const char* name = "cloudlink";
  return name;
}

// Appends value as a logfmt value: bare when it is non-empty and holds no space, quote,
// equals sign or control character; otherwise quoted, with \" \\ \n \t and \xNN escapes.
inline void append_logfmt_value(std::string& out, std::string_view value) {
  bool bare = !value.empty();
  for (char c : value) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) bare = false;
  }
  if (bare) {
    out.append(value);
    return;
  }
  out.push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else if (c == '\t') {
      out.append("\\t");
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", static_cast<unsigned char>(c));
      out.append(escaped);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

// "ts=... level=... prog=..." for a line starting now.
inline std::string logfmt_prefix(LogLevel level) {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  tm utc{};
  gmtime_r(&now.tv_sec, &utc);
  char head[96];
  std::snprintf(head, sizeof head,
                "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s prog=", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                now.tv_nsec / 1000000, log_level_name(level));
  std::string line = head;
  append_logfmt_value(line, log_program_name());
  return line;
}

// One line: the prefix, msg, then each key=value (keys are the caller's constants).
inline void log_fields(
    LogLevel level, std::string_view msg,
    std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  std::string line = logfmt_prefix(level);
  line.append(" msg=");
  append_logfmt_value(line, msg);
  for (const auto& [key, value] : fields) {
    line.push_back(' ');
    line.append(key);
    line.push_back('=');
    append_logfmt_value(line, value);
  }
  line.push_back('\n');
  [[maybe_unused]] ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
}

inline void log_vat(LogLevel level, const char* format, va_list args) {
  char text[1024];
  std::vsnprintf(text, sizeof text, format, args);
  log_fields(level, text, {});
}

__attribute__((format(printf, 2, 3))) inline void log_at(LogLevel level, const char* format, ...) {
  va_list args;
  va_start(args, format);
  log_vat(level, format, args);
  va_end(args);
}

// What happened, for the record (started, stopped, a certificate renewed).
__attribute__((format(printf, 1, 2))) inline void log_line(const char* format, ...) {
  va_list args;
  va_start(args, format);
  log_vat(LogLevel::kInfo, format, args);
  va_end(args);
}

// Something went wrong and the program carries on around it (a retry, a fallback).
__attribute__((format(printf, 1, 2))) inline void log_warn(const char* format, ...) {
  va_list args;
  va_start(args, format);
  log_vat(LogLevel::kWarn, format, args);
  va_end(args);
}

// The operation or the program failed.
__attribute__((format(printf, 1, 2))) inline void log_error(const char* format, ...) {
  va_list args;
  va_start(args, format);
  log_vat(LogLevel::kError, format, args);
  va_end(args);
}

}  // namespace cloudlink
