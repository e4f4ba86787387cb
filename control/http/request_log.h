// Control's request log: one logfmt line on stderr per answered HTTP request, beside the
// diagnostics (common/log.h) and in the same shape:
//
//   ts=... level=info prog=cloudlink-control msg=request method=POST
//   route=/api/homes/{id}/mappings status=201 duration_s=0.004210 user=alice source=203.0.113.7
//
// route is the matched pattern (or "unmatched"), never the raw path, which can carry user and
// host names; source is the client address (the one a trusted PROXY header named, behind the
// dataplane); user is who the bearer token belongs to, "-" when the request had none that
// checked out.
#pragma once

#include <string_view>

namespace cloudlink::control::http {

struct RequestLogEntry {
  std::string_view method;  // as sent (cut to 16 bytes)
  std::string_view route;
  int status = 0;
  double seconds = -1;  // since the head was in; negative: unknown
  std::string_view user;
  std::string_view source;
};

void log_request(const RequestLogEntry& entry);

}  // namespace cloudlink::control::http
