// Builds a syntactically valid TLS ClientHello record, the way a modern client frames it: a
// TLS 1.0-versioned handshake record carrying a TLS 1.2 client_hello that offers TLS 1.3
// through supported_versions, with server_name, supported_groups, signature_algorithms,
// key_share (x25519), psk_key_exchange_modes and ALPN. Good enough for SNI routers (HAProxy's
// req.ssl_sni, nginx's ssl_preread, cloudlink-dataplane); never followed by a real handshake.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace cloudlink::bench {

// Where the 32-byte random sits in the record (5 record + 4 handshake + 2 version bytes), so a
// caller can build the record once and give each connection its own random.
inline constexpr size_t kClientHelloRandomOffset = 11;

// seed fills the random, the session id and the key share deterministically.
std::vector<uint8_t> build_client_hello(std::string_view server_name, uint64_t seed);

}  // namespace cloudlink::bench
