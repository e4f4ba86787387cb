// The connection loop of the control API server (internal to control/http): cpp-httplib 0.11
// with its per-connection loop replaced. The library's loop keeps a connection open after an
// answer it gave without reading the whole request (an oversized body, a broken chunked body),
// so the bytes that follow would be parsed as the next request; and its timeouts are per read,
// not per request. Ours is the library's otherwise: keep-alive up to a count, each request
// parsed and routed by the library's process_request().
#pragma once

#include <httplib.h>

#include <memory>

#include "control/http/server.h"

namespace cloudlink::control::http {

// A cpp-httplib server whose connections follow options' timeouts and request deadline and
// close after a response when close_after_response() was set while handling its request.
// options must outlive the server.
std::unique_ptr<httplib::Server> make_library_server(const ServerOptions& options);

// The current request's connection closes once its response is written. Called from the
// library's handlers, on the pool thread that serves the connection.
void close_after_response();

}  // namespace cloudlink::control::http
