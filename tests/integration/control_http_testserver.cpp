// A control API server with the standard routes and a few demo routes, for
// control_http_test.py: it exercises the HTTP layer (control/http) without the state store.
//   control_http_testserver --listen 127.0.0.1:PORT [--request-timeout S]
//       [--keep-alive-timeout S] [--threads N] [--max-queued N] [--max-connections N]
//       [--max-connections-per-source N] [--accept-proxy-from CIDR]
#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

#include "common/cidr.h"
#include "common/log.h"
#include "control/serve.h"

namespace {

using cloudlink::Result;
using cloudlink::control::api::bool_field;
using cloudlink::control::api::int_array_field;
using cloudlink::control::api::int_field;
using cloudlink::control::api::string_field;
using cloudlink::control::http::Method;
using cloudlink::control::http::Request;
using cloudlink::control::http::Response;
using cloudlink::control::http::Route;
using cloudlink::control::http::Server;

Result<void> add_demo_routes(Server& server) {
  Route create;
  create.method = Method::kPost;
  create.pattern = "/api/demo/homes/{id}/mappings";
  create.summary = "Echo a mapping body that passed its schema";
  create.body = cloudlink::control::api::BodySchema{
      {string_field("hostname", 253, true, "lower-case hostname"),
       int_array_field("tls_ports", 1, 65535, 16, true, "tunnel ports for TLS"),
       int_field("http_port", 1, 65535, false, "tunnel port for plain HTTP"),
       bool_field("proxy_protocol", false, "send a PROXY v2 header")}};
  create.responses = {{201, "The mapping, echoed"}};
  create.requires_auth = true;
  create.handler = [](const Request& request) {
    nlohmann::json out = {{"home", request.param("id")},
                          {"hostname", *request.body().string("hostname")},
                          {"tls_ports", *request.body().int_array("tls_ports")},
                          {"token", *request.bearer_token()},
                          {"source", request.source_ip()}};
    if (auto port = request.body().integer("http_port")) out["http_port"] = *port;
    if (auto proxy = request.body().boolean("proxy_protocol")) out["proxy_protocol"] = *proxy;
    return Response::ok(out, 201);
  };
  if (auto added = server.add(std::move(create)); !added) return added;

  Route get;
  get.pattern = "/api/demo/homes/{id}";
  get.summary = "Echo the path parameter";
  get.responses = {{200, "The id"}};
  get.handler = [](const Request& request) { return Response::ok({{"id", request.param("id")}}); };
  if (auto added = server.add(std::move(get)); !added) return added;

  Route remove;
  remove.method = Method::kDelete;
  remove.pattern = "/api/demo/homes/{id}";
  remove.summary = "Delete nothing";
  remove.responses = {{204, "Deleted"}};
  remove.handler = [](const Request&) { return Response::no_content(); };
  if (auto added = server.add(std::move(remove)); !added) return added;

  // A handler that blocks, as login does for Argon2id: the loop must not wait for it.
  Route sleep;
  sleep.pattern = "/api/demo/sleep";
  sleep.summary = "Sleep ms milliseconds, then answer";
  sleep.query = {{"ms", 0, 10000, "how long"}};
  sleep.responses = {{200, "Slept"}};
  sleep.handler = [](const Request& request) {
    const int64_t ms = request.query("ms").value_or(0);
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    return Response::ok({{"slept_ms", ms}, {"source", request.source_ip()}});
  };
  if (auto added = server.add(std::move(sleep)); !added) return added;

  Route fail;
  fail.pattern = "/api/demo/throw";
  fail.summary = "A handler that throws";
  fail.responses = {{500, "Always"}};
  fail.handler = [](const Request&) -> Response { throw std::runtime_error("demo failure"); };
  return server.add(std::move(fail));
}

}  // namespace

int main(int argc, char** argv) {
  cloudlink::log_program_name() = "control_http_testserver";
  cloudlink::control::ServeOptions options;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--listen") {
      options.listen = argv[i + 1];
    } else if (flag == "--request-timeout") {
      options.server.request_timeout = std::chrono::seconds(std::atoi(argv[i + 1]));
    } else if (flag == "--keep-alive-timeout") {
      options.server.keep_alive_timeout = std::chrono::seconds(std::atoi(argv[i + 1]));
    } else if (flag == "--threads") {
      options.server.threads = static_cast<size_t>(std::atoi(argv[i + 1]));
    } else if (flag == "--max-queued") {
      options.server.max_queued_requests = static_cast<size_t>(std::atoi(argv[i + 1]));
    } else if (flag == "--max-connections") {
      options.server.max_connections = static_cast<uint32_t>(std::atoi(argv[i + 1]));
    } else if (flag == "--max-connections-per-source") {
      options.server.max_connections_per_source = static_cast<uint32_t>(std::atoi(argv[i + 1]));
    } else if (flag == "--accept-proxy-from") {
      auto network = cloudlink::Cidr::parse(argv[i + 1]);
      if (!network) {
        std::fprintf(stderr, "--accept-proxy-from %s\n", network.error().context().c_str());
        return 2;
      }
      options.server.trusted_proxies.push_back(*network);
    } else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  options.add_routes = add_demo_routes;
  return cloudlink::control::run_serve(options);
}
