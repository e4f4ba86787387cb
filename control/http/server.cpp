#include "control/http/server.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <exception>
#include <string_view>
#include <variant>

#include "common/log.h"
#include "control/http/connection.h"

namespace cloudlink::control::http {

namespace {

// Per-request state the HTTP library cannot carry for us: set when the request's headers
// are in (pre-routing), read when its response is written (logger). A connection is served
// start to end by one pool thread, so a thread_local is per request.
struct InFlight {
  std::chrono::steady_clock::time_point start;
  std::string route;
  bool started = false;
};
thread_local InFlight tls_in_flight;

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

void write_response(const Response& response, httplib::Response& out) {
  out.status = response.status;
  for (const auto& [name, value] : response.headers) out.set_header(name, value);
  std::string body = response.serialized_body();
  if (!body.empty() || response.status != 204) {
    out.set_content(body, std::string(response.serialized_content_type()));
  }
}

// Content-Length as a number; unparsable counts as too large (the library refuses it too).
uint64_t declared_length(const httplib::Request& req) {
  if (!req.has_header("Content-Length")) return 0;
  std::string text = req.get_header_value("Content-Length");
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9' || value > UINT64_MAX / 10 - 9) return UINT64_MAX;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return text.empty() ? UINT64_MAX : value;
}

std::string library_error_message(int status) {
  switch (status) {
    case 400:
      return "malformed HTTP request";
    case 413:
      return "request body too large";
    case 414:
      return "request URI too long";
    case 431:
      return "request headers too large";
    default:
      return "request refused (HTTP " + std::to_string(status) + ")";
  }
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
    : options_(std::move(options)),
      metrics_(std::make_shared<prometheus::Registry>()),
      http_(make_library_server(options_, tls_)) {
  configure_library();
}

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
    return route.handler(request);
  } catch (const std::exception& e) {
    log_line("%s %s: handler failed: %s", raw.method.c_str(), route.pattern.c_str(), e.what());
  } catch (...) {
    log_line("%s %s: handler failed", raw.method.c_str(), route.pattern.c_str());
  }
  return Response::error(500, "internal", "internal error");
}

void Server::configure_library() {
  httplib::Server& http = *http_;
  const size_t threads = options_.threads == 0 ? 1 : options_.threads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_read_timeout(options_.read_timeout);
  http.set_write_timeout(options_.write_timeout);
  http.set_keep_alive_timeout(options_.keep_alive_timeout.count());
  http.set_keep_alive_max_count(options_.keep_alive_max_requests);
  // Chunked bodies have no Content-Length to check up front; the library stops reading
  // past this and answers 413 (on_library_error gives it a JSON body).
  http.set_payload_max_length(options_.max_body_bytes);

  using Req = const httplib::Request&;
  using Res = httplib::Response&;
  http.set_expect_100_continue_handler([this](Req req, Res res) { return on_expect(req, res); });
  using Handled = httplib::Server::HandlerResponse;
  http.set_pre_routing_handler([this](Req req, Res res) {
    return on_headers(req, res) ? Handled::Handled : Handled::Unhandled;
  });
  auto dispatch = [this](Req req, Res res) { on_request(req, res); };
  const std::string any = ".*";
  http.Get(any, dispatch);
  http.Post(any, dispatch);
  http.Put(any, dispatch);
  http.Patch(any, dispatch);
  http.Delete(any, dispatch);
  http.Options(any, dispatch);
  http.set_error_handler(httplib::Server::HandlerWithResponse(
      [](Req, Res res) { return on_library_error(res) ? Handled::Handled : Handled::Unhandled; }));
  // handle() catches what handlers throw; this is for the library's own code paths.
  http.set_exception_handler([](Req, Res res, std::exception_ptr) {
    write_response(Response::error(500, "internal", "internal error"), res);
  });
  http.set_logger([this](Req req, const httplib::Response& res) { on_response_written(req, res); });
}

void Server::begin_request(const httplib::Request& req) const {
  tls_in_flight.start = std::chrono::steady_clock::now();
  tls_in_flight.started = true;
  RouteMatch match = router_.match(req.method, req.path);
  tls_in_flight.route =
      match.kind == RouteMatch::Kind::kNoPath ? std::string(kUnmatchedRoute) : match.pattern;
}

int Server::on_expect(const httplib::Request& req, httplib::Response& res) const {
  // `Expect: 100-continue` comes before pre-routing: refuse an oversized body here, before
  // the client is invited to send it. Any other status than 100 ends the request.
  if (declared_length(req) <= options_.max_body_bytes) return 100;
  begin_request(req);
  write_response(too_large(options_.max_body_bytes), res);
  res.set_header("Connection", "close");
  close_after_response();
  return 413;
}

bool Server::on_headers(const httplib::Request& req, httplib::Response& res) const {
  begin_request(req);
  // RFC 9112 6.3: a request with neither Content-Length nor Transfer-Encoding has no body.
  // cpp-httplib 0.11 instead reads a POST/PUT/PATCH/DELETE body until EOF (a client doing
  // `curl -X DELETE` would wait for the read timeout), so say so explicitly. The Request
  // object is the library's own non-const one, handed to us by const reference.
  if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) {
    const_cast<httplib::Request&>(req).set_header("Content-Length", "0");
  }
  // A declared length over the cap is refused before one byte of it is read; the
  // connection is closed because the unread body would otherwise be parsed as a request.
  if (declared_length(req) > options_.max_body_bytes) {
    write_response(too_large(options_.max_body_bytes), res);
    res.set_header("Connection", "close");
    close_after_response();
    return true;
  }
  return false;
}

void Server::on_request(const httplib::Request& req, httplib::Response& res) const {
  RawRequest raw;
  raw.method = req.method;
  raw.path = req.path;
  raw.content_type = req.get_header_value("Content-Type");
  raw.authorization = req.get_header_value("Authorization");
  raw.has_body = req.has_header("Content-Length") || req.has_header("Transfer-Encoding");
  raw.body = req.body;
  // From the request target only: the library also puts a form-encoded body in req.params.
  if (auto mark = req.target.find('?'); mark != std::string::npos) {
    httplib::Params query;
    httplib::detail::parse_query_text(req.target.substr(mark + 1), query);
    for (const auto& [name, value] : query) raw.query.emplace_back(name, value);
  }
  raw.remote_ip = req.remote_addr;
  raw.remote_port = static_cast<uint16_t>(req.remote_port);
  write_response(handle(raw), res);
}

bool Server::on_library_error(httplib::Response& res) {
  // Our own answers already have a body; an empty one is the library's (malformed request,
  // 413 on a chunked body, 414, ...). After those the rest of the connection's bytes cannot
  // be trusted to start a request, so it closes.
  if (!res.body.empty()) return false;
  write_response(
      Response::error(res.status, status_error_code(res.status), library_error_message(res.status)),
      res);
  res.set_header("Connection", "close");
  close_after_response();
  return true;
}

void Server::on_response_written(const httplib::Request& req, const httplib::Response& res) {
  double seconds = -1;
  std::string route(kUnmatchedRoute);
  if (tls_in_flight.started) {
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - tls_in_flight.start)
                  .count();
    route = std::move(tls_in_flight.route);
  }
  tls_in_flight.started = false;
  // A request line that did not parse can carry any word as its method: keep the label
  // set bounded.
  std::string_view method = req.method;
  if (!parse_method(method) && method != "OPTIONS") method = "other";
  metrics_.observe(route, method, res.status, seconds);
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
  if (port == 0) {
    int bound = http_->bind_to_any_port(host);
    if (bound <= 0) return Error(EADDRNOTAVAIL, "bind " + host + ":0");
    return static_cast<uint16_t>(bound);
  }
  if (!http_->bind_to_port(host, port)) {
    return Error(errno != 0 ? errno : EADDRINUSE, "bind " + host + ":" + std::to_string(port));
  }
  return port;
}

Result<void> Server::run() {
  if (!http_->listen_after_bind()) return invalid("HTTP listener stopped with an error");
  return ok();
}

void Server::stop() {
  if (http_) http_->stop();
}

}  // namespace cloudlink::control::http
