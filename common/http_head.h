// Strict, allocation-free reader of an HTTP/1.x request head (RFC 9112 section 2-3, RFC 9110
// section 7.2): the dataplane routes plain HTTP on :80 by its Host, control's API server reads
// its requests with it. Input is everything received from the client so far; the head may
// arrive in any number of pieces.
//
// The request line (method, request-target, version) and the Host are read; every other field
// is checked and can be looked up afterwards (find_field). The head is checked for the framing
// errors that make a request ambiguous (obs-fold, whitespace before a colon, bare CR, control
// characters), and every length is bounded by the cap. The dataplane relays the bytes to the
// backend unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace cloudlink::http {

// The most a client may send before the end of its request head (the empty line), by
// default (the dataplane's :80); a caller may pass its own cap.
inline constexpr size_t kMaxRequestHeadBytes = 8 * 1024;

enum class HeadStatus : uint8_t {
  kComplete,   // the head is in; host and target are set
  kNeedMore,   // a valid prefix of a head: read more and call again with all bytes
  kMalformed,  // not an HTTP/1.x request head, or one with a framing error (400)
  kTooLarge,   // no end of head within the cap (431; 414 when line_too_long)
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
  // The header field lines, each with its line ending (empty when there are none); checked,
  // for find_field.
  std::string_view fields;
  // kTooLarge: the cap was reached inside the request line itself (414 URI Too Long).
  bool line_too_long = false;
  // Static text naming what was wrong, for logs; "" when kComplete or kNeedMore.
  const char* reason = "";
};

// Never reads outside data; the views in the result point into data. max_head_bytes is the
// cap: a head that has not ended within that many bytes is kTooLarge.
HeadResult parse_request_head(std::span<const uint8_t> data,
                              size_t max_head_bytes = kMaxRequestHeadBytes);

// A field of a complete head, by name (case-insensitive): how many lines carry it and the
// first one's value with surrounding whitespace removed ("" when count is 0). A caller that
// needs one value refuses count > 1 rather than guess which line a peer would have used.
struct FieldValue {
  size_t count = 0;
  std::string_view value;
};
FieldValue find_field(const HeadResult& head, std::string_view name);

}  // namespace cloudlink::http
