#include "control/http/message.h"

#include <strings.h>

namespace cloudlink::control::http {

std::optional<int64_t> Request::query(std::string_view name) const {
  for (const auto& [key, value] : query_) {
    if (key == name) return value;
  }
  return std::nullopt;
}

std::string_view Request::param(std::string_view name) const {
  for (const auto& [key, value] : params_) {
    if (key == name) return value;
  }
  return {};
}

std::optional<std::string> parse_bearer(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size() ||
      strncasecmp(authorization.data(), kScheme.data(), kScheme.size()) != 0) {
    return std::nullopt;
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return std::nullopt;
  // token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
  size_t i = 0;
  for (; i < token.size(); ++i) {
    char c = token[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && std::string_view("-._~+/").find(c) == std::string_view::npos) break;
  }
  if (i == 0) return std::nullopt;
  for (; i < token.size(); ++i) {
    if (token[i] != '=') return std::nullopt;
  }
  return std::string(token);
}

std::string_view status_error_code(int status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 408:
      return "request_timeout";
    case 409:
      return "conflict";
    case 411:
      return "length_required";
    case 413:
      return "payload_too_large";
    case 414:
      return "uri_too_long";
    case 415:
      return "unsupported_media_type";
    case 417:
      return "expectation_failed";
    case 429:
      return "too_many_requests";
    case 431:
      return "headers_too_large";
    case 500:
      return "internal";
    case 503:
      return "unavailable";
    default:
      return status >= 500 ? "internal" : "bad_request";
  }
}

Response Response::ok(nlohmann::json body, int status) {
  Response response;
  response.status = status;
  response.json = std::move(body);
  return response;
}

Response Response::no_content() {
  Response response;
  response.status = 204;
  return response;
}

Response Response::error(int status, std::string_view code, std::string_view message) {
  Response response;
  response.status = status;
  response.json = {{"error", {{"code", code}, {"message", message}}}};
  return response;
}

Response Response::raw(int status, std::string content_type, std::string text) {
  Response response;
  response.status = status;
  response.content_type = std::move(content_type);
  response.text = std::move(text);
  return response;
}

std::string Response::serialized_body() const {
  if (!content_type.empty()) return text;
  if (status == 204 || json.is_null()) return {};
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string_view Response::serialized_content_type() const {
  if (!content_type.empty()) return content_type;
  return "application/json";
}

}  // namespace cloudlink::control::http
