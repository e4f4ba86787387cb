#include "control/http/server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <string_view>

#include "common/log.h"

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
// Set while a request is handled when its connection must close after the response: the
// library gave up on the request (the rest of its bytes cannot be trusted to be a request)
// or a body over the cap was left unread.
thread_local bool tls_close_connection = false;

using Clock = std::chrono::steady_clock;

int millis_until(Clock::time_point deadline, std::chrono::seconds cap) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, cap.count() * 1000));
}

bool wait_for(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  int n;
  do {
    n = ::poll(&p, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  return n > 0;
}

// The library's Stream over one accepted socket, with a buffered read (its line reader reads
// byte by byte) and, besides the per-call read/write timeouts, a deadline for the whole
// request: a client that trickles a byte just before each timeout is still cut off.
class DeadlineStream final : public httplib::Stream {
 public:
  DeadlineStream(int fd, const ServerOptions& options) : fd_(fd), options_(options) {}

  void start_request() { deadline_ = Clock::now() + options_.request_timeout; }
  // Bytes of a pipelined next request already read from the socket.
  bool has_buffered() const { return begin_ < end_; }

  bool is_readable() const override {
    return begin_ < end_ || wait_for(fd_, POLLIN, millis_until(deadline_, options_.read_timeout));
  }
  bool is_writable() const override {
    return wait_for(fd_, POLLOUT, millis_until(deadline_, options_.write_timeout));
  }

  ssize_t read(char* ptr, size_t size) override {
    if (begin_ == end_) {
      if (!is_readable()) return -1;
      ssize_t n = ::recv(fd_, buffer_, sizeof buffer_, 0);
      if (n <= 0) return n;
      begin_ = 0;
      end_ = static_cast<size_t>(n);
    }
    size_t n = std::min(size, end_ - begin_);
    std::memcpy(ptr, buffer_ + begin_, n);
    begin_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    return ::send(fd_, ptr, size, MSG_NOSIGNAL);
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      address_text(address, ip, port);
    }
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      address_text(address, ip, port);
    }
  }
  socket_t socket() const override { return fd_; }

 private:
  static void address_text(const sockaddr_storage& address, std::string& ip, int& port) {
    char text[INET6_ADDRSTRLEN] = {};
    if (address.ss_family == AF_INET) {
      const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
      ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
      port = ntohs(v4->sin_port);
    } else if (address.ss_family == AF_INET6) {
      const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
      ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
      port = ntohs(v6->sin6_port);
    }
    ip = text;
  }

  int fd_;
  const ServerOptions& options_;
  Clock::time_point deadline_ = Clock::now();
  char buffer_[4096];
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace

// cpp-httplib 0.11 with our own connection loop: the library's loop keeps a connection open
// after an answer it gave without reading the whole request (an oversized body, a broken
// chunked body), so the bytes that follow would be parsed as the next request; and its
// timeouts are per read, not per request. The loop is the library's otherwise: keep-alive
// up to a count, each request parsed and routed by the library's process_request().
class ControlHttpServer final : public httplib::Server {
 public:
  explicit ControlHttpServer(const ServerOptions& options) : options_(options) {}

 private:
  bool process_and_close_socket(socket_t sock) override {
    DeadlineStream stream(sock, options_);
    bool ok = true;
    for (size_t left = options_.keep_alive_max_requests; left > 0; --left) {
      if (!stream.has_buffered() && !wait_for_request(sock)) break;
      stream.start_request();
      bool connection_closed = false;
      tls_close_connection = false;
      ok = process_request(stream, left == 1, connection_closed, nullptr);
      if (!ok || connection_closed || tls_close_connection) break;
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return ok;
  }

  // Waits for the first byte of the next request, at most keep_alive_timeout, in short
  // slices so stop() does not wait for idle connections.
  bool wait_for_request(int fd) const {
    const auto deadline = Clock::now() + options_.keep_alive_timeout;
    while (is_running()) {
      int slice = std::min(millis_until(deadline, options_.keep_alive_timeout), 100);
      if (wait_for(fd, POLLIN, slice)) return true;
      if (Clock::now() >= deadline) return false;
    }
    return false;
  }

  const ServerOptions& options_;
};

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

Response too_large(size_t cap) {
  return Response::error(413, "payload_too_large",
                         "request body is larger than " + std::to_string(cap) + " bytes");
}

}  // namespace

Server::Server(ServerOptions options)
    : options_(std::move(options)),
      metrics_(std::make_shared<prometheus::Registry>()),
      http_(std::make_unique<ControlHttpServer>(options_)) {
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
  // one past this and answers 413 (the error handler below gives it a JSON body).
  http.set_payload_max_length(options_.max_body_bytes);

  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    tls_in_flight.start = std::chrono::steady_clock::now();
    tls_in_flight.started = true;
    RouteMatch match = router_.match(req.method, req.path);
    tls_in_flight.route =
        match.kind == RouteMatch::Kind::kNoPath ? std::string(kUnmatchedRoute) : match.pattern;
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
      tls_close_connection = true;
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  auto dispatch = [this](const httplib::Request& req, httplib::Response& res) {
    RawRequest raw;
    raw.method = req.method;
    raw.path = req.path;
    raw.content_type = req.get_header_value("Content-Type");
    raw.authorization = req.get_header_value("Authorization");
    raw.has_body = req.has_header("Content-Length") || req.has_header("Transfer-Encoding");
    raw.body = req.body;
    raw.remote_ip = req.remote_addr;
    raw.remote_port = static_cast<uint16_t>(req.remote_port);
    write_response(handle(raw), res);
  };
  const std::string any = ".*";
  http.Get(any, dispatch);
  http.Post(any, dispatch);
  http.Put(any, dispatch);
  http.Patch(any, dispatch);
  http.Delete(any, dispatch);
  http.Options(any, dispatch);

  // Answers the library produced itself (400 malformed request, 413, 414, ...) have no body.
  http.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        res.set_header("Connection", "close");
        tls_close_connection = true;
        write_response(Response::error(res.status, status_error_code(res.status),
                                       library_error_message(res.status)),
                       res);
        return httplib::Server::HandlerResponse::Handled;
      }));
  // handle() catches what handlers throw; this is for the library's own code paths.
  http.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        write_response(Response::error(500, "internal", "internal error"), res);
      });
  http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    double seconds = -1;
    std::string route(kUnmatchedRoute);
    if (tls_in_flight.started) {
      seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - tls_in_flight.start)
              .count();
      route = std::move(tls_in_flight.route);
    }
    tls_in_flight.started = false;
    // A request line that did not parse can carry any word as its method: keep the label
    // set bounded.
    std::string_view method = req.method;
    if (!parse_method(method) && method != "OPTIONS") method = "other";
    metrics_.observe(route, method, res.status, seconds);
  });
}

Result<uint16_t> Server::bind(const std::string& host, uint16_t port) {
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

Result<void> add_standard_routes(Server& server) {
  Route health;
  health.pattern = "/api/health";
  health.summary = "Liveness: the server answers";
  health.tag = "meta";
  health.responses = {{200, "The server is up: {\"status\":\"ok\"}"}};
  health.handler = [](const Request&) { return Response::ok({{"status", "ok"}}); };
  if (auto added = server.add(std::move(health)); !added) return added;

  Route openapi;
  openapi.pattern = "/api/openapi.json";
  openapi.summary = "This API's OpenAPI 3 document, built from the registered routes";
  openapi.tag = "meta";
  openapi.responses = {{200, "The OpenAPI document"}};
  openapi.handler = [&server](const Request&) { return Response::ok(server.openapi()); };
  if (auto added = server.add(std::move(openapi)); !added) return added;

  Route metrics;
  metrics.pattern = "/metrics";
  metrics.summary = "Prometheus metrics (text exposition format 0.0.4)";
  metrics.tag = "meta";
  metrics.responses = {{200, "The metrics"}};
  metrics.handler = [&server](const Request&) {
    return Response::raw(200, "text/plain; version=0.0.4; charset=utf-8", server.metrics().text());
  };
  return server.add(std::move(metrics));
}

}  // namespace cloudlink::control::http
