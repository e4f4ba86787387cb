// OpenSSH public key lines on arbitrary bytes (they arrive in API bodies): the parser never
// reads out of bounds, and what it accepts is canonical: parsing its own output gives it back.
#include <cstdlib>
#include <string_view>

#include "control/state/ssh_key.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto key = cloudlink::state::parse_public_key_line(in);
  if (!key) return 0;
  if (key->type == "ssh-rsa" && key->bits < cloudlink::state::kMinRsaBits) std::abort();
  auto again = cloudlink::state::parse_public_key(key->type, key->base64);
  if (!again || again->base64 != key->base64 || again->bits != key->bits) std::abort();
  return 0;
}
