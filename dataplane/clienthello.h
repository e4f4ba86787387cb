// Strict, allocation-free reader of the TLS ClientHello's server_name (RFC 8446 4.1.2,
// RFC 6066 section 3). Input is everything received from the client so far; the handshake
// message may span several TLS records and several TCP segments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace cloudlink::tls {

// Cap on the bytes a client may send before its ClientHello is complete (records included).
inline constexpr size_t kMaxClientHelloBytes = 16 * 1024;

enum class HelloStatus : uint8_t {
  kComplete,   // the whole ClientHello is in; server_name is set (empty when it has no SNI)
  kNeedMore,   // a prefix of a valid ClientHello: read more and call again with all bytes
  kNotTls,     // the first bytes are not a TLS handshake record (plain HTTP, SSLv2, garbage)
  kMalformed,  // a TLS record or handshake whose lengths or fields are inconsistent
  kTooLarge,   // the ClientHello would need more than kMaxClientHelloBytes
};

struct HelloResult {
  HelloStatus status = HelloStatus::kNeedMore;
  // The host_name entry of server_name, as sent (not lower-cased or validated). Points into
  // data or scratch; valid while both are. Empty when no SNI or status != kComplete.
  std::string_view server_name;
  // Static text naming what was wrong, for logs; "" when kComplete or kNeedMore.
  const char* reason = "";
};

// scratch must hold at least kMaxClientHelloBytes; it is used to join a handshake message
// that is split across records. The function never reads outside data and never writes outside
// scratch.
HelloResult parse_client_hello(std::span<const uint8_t> data, std::span<uint8_t> scratch);

}  // namespace cloudlink::tls
