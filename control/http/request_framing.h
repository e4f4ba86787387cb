// How an API request's body is framed and whether its connection stays open, from its head
// (RFC 9112 6, 9.3; RFC 9110 10.1.1), decided before one byte of the body is read:
//  * Content-Length: decimal digits only, one field; over the body cap is 413 (the body is
//    not read: the connection then closes, since its bytes cannot be skipped safely).
//  * Transfer-Encoding (chunked or any other): 411 Length Required, as RFC 9112 6.3 allows.
//    Every client of this API knows its JSON body's length up front; one framing only means
//    one body reader and no request smuggling between two.
//  * Expect: 100-continue on HTTP/1.1 asks for an interim 100 before the body, sent only once
//    the head passed every check above; any other expectation is 417. HTTP/1.0 ignores Expect.
//  * Content-Type and Authorization may appear once (400 otherwise: which one would count?).
//  * keep-alive: HTTP/1.1 unless "Connection: close"; HTTP/1.0 never.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/http_head.h"

namespace cloudlink::control::http {

struct Framing {
  // Nonzero: the request is refused with this status before its body; the connection closes.
  int refuse_status = 0;
  const char* refuse_message = "";
  uint64_t body_length = 0;
  bool has_body = false;  // Content-Length or Transfer-Encoding sent (even "0")
  bool expect_continue = false;
  bool keep_alive = true;
  std::string_view content_type;
  std::string_view authorization;
};

Framing frame_request(const cloudlink::http::HeadResult& head, size_t max_body_bytes);

}  // namespace cloudlink::control::http
