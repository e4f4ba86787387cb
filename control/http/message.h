// What a control API handler sees (Request) and returns (Response), and what the connection
// loop hands the server (RawRequest). Handlers never touch HTTP framing: the server builds a
// Request after its checks (route, size, content type, body schema, bearer token presence) and
// the loop writes the Response, so these types are all a handler and its unit test need.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "control/api/json_body.h"
#include "control/http/router.h"

namespace cloudlink::control::http {

// A request as the connection loop read it (control/http/connection.h): the input of
// Server::handle().
struct RawRequest {
  std::string method;
  std::string target;         // the request-target as sent (origin-form: path and query)
  std::string path;           // percent-decoded
  std::string content_type;   // the Content-Type header, as sent ("" when absent)
  std::string authorization;  // the Authorization header, as sent
  bool has_body = false;      // Content-Length or Transfer-Encoding was sent
  std::string body;
  // The query string's parameters, decoded, in order (a repeated name appears twice).
  std::vector<std::pair<std::string, std::string>> query;
  // The client: the peer, or the source a trusted load balancer's PROXY header named.
  std::string remote_ip;
  uint16_t remote_port = 0;
};

class Request {
 public:
  Request() = default;
  Request(Method method, std::string path, PathParams params)
      : method_(method), path_(std::move(path)), params_(std::move(params)) {}

  Method method() const { return method_; }
  const std::string& path() const { return path_; }
  // The value of the pattern parameter {name}; empty when the pattern has none of that name.
  std::string_view param(std::string_view name) const;
  const PathParams& params() const { return params_; }

  // The credentials of `Authorization: Bearer TOKEN`, when the header has that form.
  const std::optional<std::string>& bearer_token() const { return bearer_token_; }
  // The peer's IP address as text ("127.0.0.1", "::1") and port.
  const std::string& source_ip() const { return source_ip_; }
  uint16_t source_port() const { return source_port_; }
  // The body's fields, already checked against the route's schema (empty when it has none).
  const api::ParsedBody& body() const { return body_; }
  // The value of a declared query parameter, checked against its bounds; nothing when absent.
  std::optional<int64_t> query(std::string_view name) const;

  void set_bearer_token(std::optional<std::string> token) { bearer_token_ = std::move(token); }
  void set_source(std::string ip, uint16_t port) {
    source_ip_ = std::move(ip);
    source_port_ = port;
  }
  void set_body(api::ParsedBody body) { body_ = std::move(body); }
  // The user the handler authenticated, for the request log (set from a const handler).
  const std::string& user() const { return user_; }
  void set_user(std::string user) const { user_ = std::move(user); }
  void set_query(std::vector<std::pair<std::string, int64_t>> query) { query_ = std::move(query); }

 private:
  Method method_ = Method::kGet;
  std::string path_;
  PathParams params_;
  std::optional<std::string> bearer_token_;
  std::string source_ip_;
  uint16_t source_port_ = 0;
  api::ParsedBody body_;
  std::vector<std::pair<std::string, int64_t>> query_;
  mutable std::string user_;
};

// The token of an Authorization header value "Bearer TOKEN" (scheme case-insensitive,
// RFC 6750 token68 characters only); nothing for any other form.
std::optional<std::string> parse_bearer(std::string_view authorization);

// "not_found" for 404, "method_not_allowed" for 405, ...: the code of a generic error.
std::string_view status_error_code(int status);

struct Response {
  int status = 200;
  nlohmann::json json;  // the body, unless content_type is set
  // A non-JSON body (the Prometheus text format of /metrics): content_type + text.
  std::string content_type;
  std::string text;
  std::vector<std::pair<std::string, std::string>> headers;
  // Who made the request, for the request log only (never sent); empty: nobody known.
  std::string log_user;

  static Response ok(nlohmann::json body, int status = 200);
  static Response no_content();
  // {"error":{"code":code,"message":message}} with the given status.
  static Response error(int status, std::string_view code, std::string_view message);
  static Response raw(int status, std::string content_type, std::string text);

  // The bytes to send: JSON serialised (invalid UTF-8 replaced, never thrown on), or text.
  std::string serialized_body() const;
  std::string_view serialized_content_type() const;
};

}  // namespace cloudlink::control::http
