// A Response as bytes on the wire: an HTTP/1.1 status line, Content-Type and Content-Length
// (none on 204), the response's own headers, Connection: close when the connection ends after
// it, then the body (left out for HEAD; its length is still announced).
#pragma once

#include <string>
#include <string_view>

#include "control/http/message.h"

namespace cloudlink::control::http {

// "OK", "Not Found", ...; "Unknown" for a status without a phrase here.
std::string_view reason_phrase(int status);

// A header whose name is not a token or whose value holds CR, LF or NUL is dropped (a handler
// cannot split the response), and so are framing headers (Connection, Content-Length, ...).
std::string serialize_response(const Response& response, bool close, bool head_only);

// The interim answer to Expect: 100-continue.
inline constexpr std::string_view kContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace cloudlink::control::http
