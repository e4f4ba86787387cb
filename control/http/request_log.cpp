#include "control/http/request_log.h"

#include <cstdio>
#include <string>

#include "common/log.h"

namespace cloudlink::control::http {

void log_request(const RequestLogEntry& e) {
  char duration[32] = "-";
  if (e.seconds >= 0) std::snprintf(duration, sizeof duration, "%.6f", e.seconds);
  const std::string status = std::to_string(e.status);
  log_fields(LogLevel::kInfo, "request",
             {{"method", e.method.empty() ? std::string_view("-") : e.method.substr(0, 16)},
              {"route", e.route},
              {"status", status},
              {"duration_s", duration},
              {"user", e.user.empty() ? std::string_view("-") : e.user},
              {"source", e.source.empty() ? std::string_view("-") : e.source}});
}

}  // namespace cloudlink::control::http
