#include "control/http/request_framing.h"

#include <algorithm>

namespace cloudlink::control::http {

namespace {

using cloudlink::http::find_field;
using cloudlink::http::HeadResult;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

// A comma-separated list (RFC 9110 5.6.1) holds token, case-insensitively.
bool list_has(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const size_t comma = std::min(list.find(','), list.size());
    std::string_view item = list.substr(0, comma);
    list.remove_prefix(std::min(comma + 1, list.size()));
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals(item, token)) return true;
  }
  return false;
}

Framing refuse(int status, const char* message) {
  Framing f;
  f.refuse_status = status;
  f.refuse_message = message;
  f.keep_alive = false;
  return f;
}

}  // namespace

Framing frame_request(const HeadResult& head, size_t max_body_bytes) {
  Framing f;
  if (find_field(head, "Transfer-Encoding").count > 0) {
    return refuse(411, "send the body with a Content-Length (Transfer-Encoding is not accepted)");
  }
  const auto length = find_field(head, "Content-Length");
  if (length.count > 1) return refuse(400, "more than one Content-Length");
  if (length.count == 1) {
    // RFC 9110 8.6: 1*DIGIT. Twenty digits could overflow; no body here comes near 19.
    if (length.value.empty() || length.value.size() > 19) {
      return refuse(400, "Content-Length is not a number");
    }
    uint64_t value = 0;
    for (char c : length.value) {
      if (c < '0' || c > '9') return refuse(400, "Content-Length is not a number");
      value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    if (value > max_body_bytes) return refuse(413, "request body too large");
    f.body_length = value;
    f.has_body = true;
  }
  const auto expect = find_field(head, "Expect");
  if (expect.count > 0 && head.version_minor == 1) {
    if (expect.count > 1 || !iequals(expect.value, "100-continue")) {
      return refuse(417, "the only expectation accepted is 100-continue");
    }
    f.expect_continue = f.body_length > 0;
  }
  const auto type = find_field(head, "Content-Type");
  const auto authorization = find_field(head, "Authorization");
  if (type.count > 1) return refuse(400, "more than one Content-Type");
  if (authorization.count > 1) return refuse(400, "more than one Authorization");
  f.content_type = type.value;
  f.authorization = authorization.value;
  const auto connection = find_field(head, "Connection");
  if (connection.count > 1) {
    f.keep_alive = false;  // rare enough to not merge the lists: close is always safe
  } else {
    // HTTP/1.0 closes: keeping it open would need a Connection: keep-alive in the answer for
    // a client that asked, and no client of this API speaks 1.0.
    f.keep_alive = head.version_minor == 1 && !list_has(connection.value, "close");
  }
  return f;
}

}  // namespace cloudlink::control::http
