// What the dataplane says itself on an HTTP listener: the few answers it gives before (or
// instead of) routing a request, each a whole HTTP/1.1 response with a short text body and
// `Connection: close` (the connection ends after it).
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace cloudlink::dataplane {

enum class HttpAnswer {
  kBadRequest,    // 400: malformed head, or no valid Host
  kNotFound,      // 404: no route for the Host
  kUriTooLong,    // 414: the redirect for this target would not fit
  kHeadTooLarge,  // 431: no end of head within the cap
  kUnavailable,   // 503: the route table could not be read
};

// The bytes of a fixed answer (static storage).
std::string_view http_answer(HttpAnswer answer);

// A 308 to https://host + target ("/" when target is "*") written into out; the length
// written, or 0 when it does not fit. host must be a normalised hostname and target a
// request-target the head reader accepted (visible ASCII only), so nothing can be injected.
size_t write_https_redirect(std::string_view host, std::string_view target, std::span<char> out);

}  // namespace cloudlink::dataplane
