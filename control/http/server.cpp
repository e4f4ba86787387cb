#include "control/http/server.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <exception>
#include <string_view>
#include <variant>

#include "common/log.h"
#include "control/http/http_loop.h"
#include "control/http/tls_context.h"

namespace cloudlink::control::http {

namespace {

bool is_json_media_type(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  while (!media.empty() && media.front() == ' ') media.remove_prefix(1);
  constexpr std::string_view kJson = "application/json";
  if (media.size() != kJson.size()) return false;
  for (size_t i = 0; i < media.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(media[i])) != kJson[i]) return false;
  }
  return true;
}

std::string allow_header(const std::vector<Method>& methods) {
  std::string allow;
  for (Method method : methods) {
    if (!allow.empty()) allow += ", ";
    allow += method_name(method);
  }
  return allow;
}

// The declared query parameters of raw as integers, or the 400 that names the bad one.
std::variant<std::vector<std::pair<std::string, int64_t>>, Response> read_query(
    const RawRequest& raw, const Route& route) {
  std::vector<std::pair<std::string, int64_t>> values;
  for (const auto& param : raw.query) {
    // Named, not a structured binding: clang 14 cannot capture those in the lambda below.
    const std::string& name = param.first;
    const std::string& text = param.second;
    auto spec = std::find_if(route.query.begin(), route.query.end(),
                             [&](const QueryParam& q) { return q.name == name; });
    if (spec == route.query.end()) {
      return Response::error(400, "unknown_parameter",
                             "query parameter \"" + name.substr(0, 64) + "\" is not accepted here");
    }
    for (const auto& seen : values) {
      if (seen.first == name) {
        return Response::error(400, "invalid_parameter",
                               "query parameter \"" + name + "\" is given more than once");
      }
    }
    int64_t value = 0;
    const char* end = text.data() + text.size();
    auto parsed = std::from_chars(text.data(), end, value);
    if (text.empty() || parsed.ec != std::errc() || parsed.ptr != end || value < spec->min ||
        value > spec->max) {
      return Response::error(400, "invalid_parameter",
                             "query parameter \"" + name + "\": expected an integer from " +
                                 std::to_string(spec->min) + " to " + std::to_string(spec->max));
    }
    values.emplace_back(name, value);
  }
  return values;
}

Response too_large(size_t cap) {
  return Response::error(413, "payload_too_large",
                         "request body is larger than " + std::to_string(cap) + " bytes");
}

}  // namespace

Server::Server(ServerOptions options)
    : options_(std::move(options)), metrics_(std::make_shared<prometheus::Registry>()) {}

Server::~Server() { stop(); }

Result<void> Server::add(Route route) {
  if (!route.handler) return invalid("route " + route.pattern + " has no handler");
  auto index = router_.add(route.method, route.pattern);
  if (!index) return index.error();
  routes_.push_back(std::move(route));
  return ok();
}

nlohmann::json Server::openapi() const { return build_openapi(routes_, options_.info); }

Response Server::handle(const RawRequest& raw, std::string* route_label) const {
  RouteMatch match = router_.match(raw.method, raw.path);
  if (route_label != nullptr) {
    *route_label =
        match.kind == RouteMatch::Kind::kNoPath ? std::string(kUnmatchedRoute) : match.pattern;
  }
  if (match.kind == RouteMatch::Kind::kNoPath) {
    return Response::error(404, "not_found", "no such path");
  }
  if (match.kind == RouteMatch::Kind::kWrongMethod) {
    Response response = Response::error(405, "method_not_allowed",
                                        raw.method + " is not allowed on " + match.pattern);
    response.headers.emplace_back("Allow", allow_header(match.allowed_methods));
    return response;
  }
  const Route& route = routes_[match.index];
  Request request(route.method, raw.path, std::move(match.params));
  request.set_source(raw.remote_ip, raw.remote_port);
  request.set_bearer_token(parse_bearer(raw.authorization));
  if (route.requires_auth && !request.bearer_token()) {
    Response response =
        Response::error(401, "unauthorized", "this operation needs an Authorization: Bearer token");
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
    return response;
  }
  if (raw.body.size() > options_.max_body_bytes) return too_large(options_.max_body_bytes);
  auto query = read_query(raw, route);
  if (auto* refused = std::get_if<Response>(&query)) return std::move(*refused);
  request.set_query(std::move(std::get<0>(query)));
  if (route.body) {
    if (!is_json_media_type(raw.content_type)) {
      return Response::error(415, "unsupported_media_type",
                             "the body must be sent as Content-Type: application/json");
    }
    auto body = api::read_body(raw.body, *route.body);
    if (!body) {
      return Response::error(400, api::body_error_code_name(body.error().code),
                             body.error().message);
    }
    request.set_body(std::move(body.body()));
  } else if (!raw.body.empty()) {
    return Response::error(400, "invalid_body", "this operation takes no request body");
  }
  try {
    Response response = route.handler(request);
    if (response.log_user.empty()) response.log_user = request.user();
    return response;
  } catch (const std::exception& e) {
    log_error("%s %s: handler failed: %s", raw.method.c_str(), route.pattern.c_str(), e.what());
  } catch (...) {
    log_error("%s %s: handler failed", raw.method.c_str(), route.pattern.c_str());
  }
  return Response::error(500, "internal", "internal error");
}

std::string Server::route_label(std::string_view method, std::string_view path) const {
  RouteMatch match = router_.match(method, path);
  return match.kind == RouteMatch::Kind::kNoPath ? std::string(kUnmatchedRoute) : match.pattern;
}

void Server::answered(std::string_view route, std::string_view method, int status,
                      double seconds) const {
  // A request line can carry any token as its method: keep the label set bounded.
  if (!parse_method(method) && method != "OPTIONS") method = "other";
  metrics_.observe(route, method, status, seconds);
}

Result<uint16_t> Server::bind(const std::string& host, uint16_t port) {
  if (options_.tls_cert_file.empty() != options_.tls_key_file.empty()) {
    return invalid("--tls-cert and --tls-key go together");
  }
  if (!options_.tls_cert_file.empty() && !tls_) {
    auto tls = TlsContext::open(options_.tls_cert_file, options_.tls_key_file);
    if (!tls) return tls.error();
    tls_ = std::move(tls).value();
  }
  if (!loop_) {
    const Site& site = *this;
    loop_ = std::make_unique<HttpLoop>(static_cast<const LoopOptions&>(options_), site, tls_.get(),
                                       &metrics_);
  }
  return loop_->bind(host, port);
}

Result<void> Server::run() {
  if (!loop_) return invalid("HTTP server: run() before bind()");
  return loop_->run();
}

void Server::stop() {
  if (loop_) loop_->stop();
}

}  // namespace cloudlink::control::http
