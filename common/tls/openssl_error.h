// The reason OpenSSL's error queue holds first, for one-line messages; the queue is cleared.
#pragma once

#include <string>
#include <string_view>

namespace cloudlink {

// when_empty: what to say when the queue holds nothing (what the caller knows happened then,
// e.g. the peer closed during a handshake).
std::string openssl_error_text(std::string_view when_empty);

}  // namespace cloudlink
