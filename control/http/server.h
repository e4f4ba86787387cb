// The control API's HTTP server: a route table (control/http/router.h) in front of
// cpp-httplib's thread-pool server. Every answer, including the library's own (malformed
// request, oversized body) and a handler's exception, is JSON {"error":{"code","message"}}
// with its status. Requests are counted per route pattern in HttpMetrics.
//
// Limits, so a slow or hostile client holds a pool thread for a bounded time: `threads`
// workers; a read or write that makes no progress for read_timeout / write_timeout, or a
// request not read and answered within request_timeout, ends the connection; an idle
// keep-alive connection closes after keep_alive_timeout or keep_alive_max_requests requests;
// request line and headers are capped by the library (8 KiB each); a body larger than
// max_body_bytes gets 413 before it is read and the connection is closed, as after any
// request the library could not parse. Connections beyond `threads` wait in the accept
// queue of the pool (cpp-httplib 0.11's queue is unbounded): this is an admin API on
// loopback, not an internet-facing server.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "control/http/http_metrics.h"
#include "control/http/message.h"
#include "control/http/openapi.h"
#include "control/http/route.h"
#include "control/http/router.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace cloudlink::tls {
class TlsContext;
}  // namespace cloudlink::tls

namespace cloudlink::control::http {

using cloudlink::tls::TlsContext;

struct ServerOptions {
  static constexpr size_t kDefaultMaxBodyBytes = 64 * 1024;

  size_t max_body_bytes = kDefaultMaxBodyBytes;
  // Reading one request and writing its response, whatever the pace of each read or write.
  std::chrono::seconds request_timeout{10};
  std::chrono::seconds read_timeout{5};
  std::chrono::seconds write_timeout{5};
  std::chrono::seconds keep_alive_timeout{5};
  size_t keep_alive_max_requests = 100;
  size_t threads = 8;
  // HTTPS: a PEM certificate chain and its key (both or neither); reloaded when they change.
  std::string tls_cert_file;
  std::string tls_key_file;
  ApiInfo info;
};

// A request as the HTTP library parsed it: the input of Server::handle().
struct RawRequest {
  std::string method;
  std::string path;
  std::string content_type;   // the Content-Type header, as sent ("" when absent)
  std::string authorization;  // the Authorization header, as sent
  bool has_body = false;      // Content-Length or Transfer-Encoding was sent
  std::string body;
  // The query string's parameters, decoded, in order (a repeated name appears twice).
  std::vector<std::pair<std::string, std::string>> query;
  std::string remote_ip;
  uint16_t remote_port = 0;
};

class Server {
 public:
  explicit Server(ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Registers a route; refuses a bad pattern or a (method, pattern) pair seen before.
  // Routes are matched in registration order. Register everything before bind().
  Result<void> add(Route route);
  const std::vector<Route>& routes() const { return routes_; }
  const ServerOptions& options() const { return options_; }

  // The OpenAPI document of the routes registered so far.
  nlohmann::json openapi() const;
  HttpMetrics& metrics() { return metrics_; }

  // The whole pipeline after HTTP parsing: route lookup (404/405), bearer presence (401),
  // content type (415), size (413), body schema (400), the handler (exceptions → 500).
  // The route label for metrics goes to *route_label when given. Thread-safe.
  Response handle(const RawRequest& request, std::string* route_label = nullptr) const;

  // Binds host:port (port 0: any free port); returns the port bound. With tls_cert_file set,
  // loads the certificate first (an error names the file).
  Result<uint16_t> bind(const std::string& host, uint16_t port);
  // Serves until stop(); returns an error when the listener fails.
  Result<void> run();
  // Stops run() from any thread: closes the listener, lets in-flight requests finish.
  void stop();

 private:
  // cpp-httplib's callbacks, in the order the library calls them for one request.
  void configure_library();
  void begin_request(const httplib::Request& req) const;
  int on_expect(const httplib::Request& req, httplib::Response& res) const;
  // true: answered here, the library writes res without routing.
  bool on_headers(const httplib::Request& req, httplib::Response& res) const;
  void on_request(const httplib::Request& req, httplib::Response& res) const;
  // true: res got its JSON body here.
  static bool on_library_error(httplib::Response& res);
  void on_response_written(const httplib::Request& req, const httplib::Response& res);

  ServerOptions options_;
  Router router_;
  std::vector<Route> routes_;
  HttpMetrics metrics_;
  std::unique_ptr<TlsContext> tls_;  // before http_, which reads it
  std::unique_ptr<httplib::Server> http_;
};

// The routes every control server has: GET /api/health, GET /api/openapi.json (the
// server's own document) and GET /metrics (its registry, Prometheus text format; served on
// the API listener, so control has one port to firewall and scrape).
Result<void> add_standard_routes(Server& server);

}  // namespace cloudlink::control::http
