// How a connection ended: one value for the access log's `result` and the metrics' `reason`.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cloudlink::dataplane {

enum class CloseResult : uint8_t {
  kOk,            // relayed until both sides closed
  kRedirected,    // :80, a route without an HTTP target: 308 to https://host/path
  kNoSni,         // ClientHello without server_name: alert unrecognized_name
  kUnknownSni,    // no route for the name: alert unrecognized_name
  kBadHello,      // malformed or oversized ClientHello: alert decode_error
  kNotTls,        // first bytes were not a TLS handshake
  kHelloTimeout,  // no whole ClientHello (or HTTP request head) within --hello-timeout
  kBadRequest,    // :80, a malformed (400) or oversized (431) request head, or no valid Host
  kUnknownHost,   // :80, no route for the Host: 404
  kBadProxy,      // --accept-proxy-from: a PROXY header missing, malformed or untrusted
  kTargetsDown,   // every target refused or timed out
  kOverLimit,     // --max-connections reached
  kRouteError,    // the route table could not be read
  kIdleTimeout,   // no byte either way within --idle-timeout
  kDrainTimeout,  // cut at the end of --drain-timeout after SIGTERM
  kReset,         // one side reset the connection; the reset was passed on
  kError,         // a local error (socket, memory)
  kCount
};

inline constexpr const char* kCloseResultNames[] = {
    "ok",           "redirected",    "no_sni",      "unknown_sni",  "bad_hello",
    "not_tls",      "hello_timeout", "bad_request", "unknown_host", "bad_proxy",
    "targets_down", "over_limit",    "route_error", "idle_timeout", "drain_timeout",
    "reset",        "error"};
static_assert(sizeof(kCloseResultNames) / sizeof(kCloseResultNames[0]) ==
              static_cast<size_t>(CloseResult::kCount));

inline const char* close_result_name(CloseResult r) {
  return kCloseResultNames[static_cast<size_t>(r)];
}

// Rejections are the results that end a connection before it is routed.
inline bool is_rejection(CloseResult r) {
  return r >= CloseResult::kNoSni && r <= CloseResult::kRouteError;
}

}  // namespace cloudlink::dataplane
