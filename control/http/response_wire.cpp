#include "control/http/response_wire.h"

#include <algorithm>

namespace cloudlink::control::http {

namespace {

bool is_token(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool is_safe_value(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// The framing headers are this file's to write, whatever a handler set.
bool is_framing(std::string_view name) {
  for (std::string_view framing :
       {"connection", "content-length", "content-type", "transfer-encoding"}) {
    if (name.size() == framing.size() &&
        std::equal(name.begin(), name.end(), framing.begin(), [](char a, char b) {
          return (a >= 'A' && a <= 'Z' ? char(a - 'A' + 'a') : a) == b;
        })) {
      return true;
    }
  }
  return false;
}

void add_header(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

}  // namespace

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

std::string serialize_response(const Response& response, bool close, bool head_only) {
  const std::string body = response.serialized_body();
  const bool no_content = response.status == 204 || response.status == 304;
  std::string out;
  out.reserve(160 + body.size());
  out.append("HTTP/1.1 ")
      .append(std::to_string(response.status))
      .append(" ")
      .append(reason_phrase(response.status))
      .append("\r\n");
  if (!no_content) {
    add_header(out, "Content-Type", response.serialized_content_type());
    add_header(out, "Content-Length", std::to_string(body.size()));
  }
  for (const auto& [name, value] : response.headers) {
    if (!is_token(name) || !is_safe_value(value) || is_framing(name)) continue;
    add_header(out, name, value);
  }
  if (close) add_header(out, "Connection", "close");
  out.append("\r\n");
  if (!head_only && !no_content) out.append(body);
  return out;
}

}  // namespace cloudlink::control::http
