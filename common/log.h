// Diagnostics on stderr, one line each, prefixed with the program's name. Not for the hot
// path: the access log has its own writer.
#pragma once

#include <cstdarg>
#include <cstdio>

namespace cloudlink {

inline const char*& log_program_name() {
  static const char* name = "cloudlink";
  return name;
}

__attribute__((format(printf, 1, 2))) inline void log_line(const char* format, ...) {
  char line[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(line, sizeof line, format, args);
  va_end(args);
  std::fprintf(stderr, "%s: %s\n", log_program_name(), line);
}

}  // namespace cloudlink
