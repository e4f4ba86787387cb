#include "dataplane/http_answers.h"

#include <array>
#include <cstdio>
#include <string>

namespace cloudlink::dataplane {
namespace {

std::string make_answer(std::string_view status, std::string_view body) {
  std::string out = "HTTP/1.1 ";
  out += status;
  out += "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\nConnection: close\r\n\r\n";
  out += body;
  return out;
}

}  // namespace

std::string_view http_answer(HttpAnswer answer) {
  static const std::array<std::string, 5> answers = {
      make_answer("400 Bad Request", "bad request\n"),
      make_answer("404 Not Found", "no such host here\n"),
      make_answer("414 URI Too Long", "request target too long\n"),
      make_answer("431 Request Header Fields Too Large", "request head too large\n"),
      make_answer("503 Service Unavailable", "route table unavailable\n"),
  };
  return answers[static_cast<size_t>(answer)];
}

size_t write_https_redirect(std::string_view host, std::string_view target, std::span<char> out) {
  if (target == "*") target = "/";
  // Body: the location and a newline; Content-Length is its size.
  const size_t location_length = 8 + host.size() + target.size();  // "https://" + host + target
  const std::string body_length = std::to_string(location_length + 1);
  const std::string_view parts[] = {
      "HTTP/1.1 308 Permanent Redirect\r\nLocation: https://",
      host,
      target,
      "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ",
      body_length,
      "\r\nConnection: close\r\n\r\nhttps://",
      host,
      target,
      "\n"};
  size_t total = 0;
  for (std::string_view part : parts) total += part.size();
  if (total > out.size()) return 0;
  size_t at = 0;
  for (std::string_view part : parts) {
    part.copy(out.data() + at, part.size());
    at += part.size();
  }
  return at;
}

}  // namespace cloudlink::dataplane
