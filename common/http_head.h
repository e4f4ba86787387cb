// Strict, allocation-free reader of an HTTP/1.x request head (RFC 9112 section 2-3, RFC 9110
// section 7.2), for routing plain HTTP on :80 by its Host. Input is everything received from
// the client so far; the head may arrive in any number of pieces.
//
// Only what routing needs is read: the request line (method, request-target, version) and the
// Host. The head is otherwise checked for the framing errors that make a request ambiguous
// (obs-fold, whitespace before a colon, bare CR, control characters), and every length is
// bounded by the cap. The bytes are relayed to the backend unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace cloudlink::http {

// The most a client may send before the end of its request head (the empty line).
inline constexpr size_t kMaxRequestHeadBytes = 8 * 1024;

enum class HeadStatus : uint8_t {
  kComplete,   // the head is in; host and target are set
  kNeedMore,   // a valid prefix of a head: read more and call again with all bytes
  kMalformed,  // not an HTTP/1.x request head, or one with a framing error (400)
  kTooLarge,   // no end of head within kMaxRequestHeadBytes (431)
};

struct HeadResult {
  HeadStatus status = HeadStatus::kNeedMore;
  std::string_view method;
  // The request-target as sent: origin-form "/path?q", or the path of an absolute-form
  // "http://host/path" ("/" when it has none); "*" for OPTIONS *.
  std::string_view target;
  // The host the request is for, as sent (before lower-casing and validation), port
  // stripped: the absolute-form target's authority when there is one, else the Host header.
  // Empty when HTTP/1.0 sent no Host (an HTTP/1.1 request without one is kMalformed).
  std::string_view host;
  uint8_t version_minor = 1;  // HTTP/1.0 or HTTP/1.1
  size_t head_length = 0;     // bytes up to and including the empty line
  // Static text naming what was wrong, for logs; "" when kComplete or kNeedMore.
  const char* reason = "";
};

// Never reads outside data; the views in the result point into data.
HeadResult parse_request_head(std::span<const uint8_t> data);

}  // namespace cloudlink::http
