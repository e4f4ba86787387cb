// The connection loop of the control API server (internal to control/http): cpp-httplib 0.11
// with its per-connection loop replaced. The library's loop keeps a connection open after an
// answer it gave without reading the whole request (an oversized body, a broken chunked body),
// so the bytes that follow would be parsed as the next request; and its timeouts are per read,
// not per request. Ours is the library's otherwise: keep-alive up to a count, each request
// parsed and routed by the library's process_request(). With a TLS context, each connection
// first completes a TLS handshake within request_timeout (OpenSSL in user space: this kernel
// has no kTLS) and every read and write goes through it under the same deadlines.
#pragma once

#include <httplib.h>

#include <memory>

#include "control/http/server.h"
#include "control/http/tls_context.h"

namespace cloudlink::control::http {

// A cpp-httplib server whose connections follow options' timeouts and request deadline and
// close after a response when close_after_response() was set while handling its request.
// options and tls must outlive the server; tls may be null (plain HTTP) and is read for each
// new connection.
std::unique_ptr<httplib::Server> make_library_server(const ServerOptions& options,
                                                     const std::unique_ptr<TlsContext>& tls);

// The current request's connection closes once its response is written. Called from the
// library's handlers, on the pool thread that serves the connection.
void close_after_response();

}  // namespace cloudlink::control::http
