// control's names for the reloading TLS server context it shares with cloudlink-home
// (common/tls/tls_context.h).
#pragma once

#include "common/tls/tls_context.h"

namespace cloudlink::control::http {

using cloudlink::tls::load_server_context;
using cloudlink::tls::SslCtxPtr;
using cloudlink::tls::TlsContext;

}  // namespace cloudlink::control::http
