// TLS alert records the dataplane sends before closing a connection it cannot route.
#pragma once

#include <array>
#include <cstdint>

namespace cloudlink::tls {

enum class AlertDescription : uint8_t {
  kDecodeError = 50,
  kUnrecognizedName = 112,
};

// A fatal alert in a TLS 1.2-versioned record (RFC 8446 6: TLS 1.3 sends alerts in plaintext
// before the handshake is keyed, with legacy record version 0x0303).
constexpr std::array<uint8_t, 7> fatal_alert(AlertDescription d) {
  return {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, static_cast<uint8_t>(d)};
}

inline constexpr auto kUnrecognizedNameAlert = fatal_alert(AlertDescription::kUnrecognizedName);
inline constexpr auto kDecodeErrorAlert = fatal_alert(AlertDescription::kDecodeError);

}  // namespace cloudlink::tls
