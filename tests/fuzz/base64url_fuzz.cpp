// base64url on arbitrary bytes: decoding accepts exactly the canonical encodings, and encoding
// then decoding gives the input back.
#include <cstdlib>
#include <string_view>

#include "common/acme/base64url.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto decoded = cloudlink::acme::base64url_decode(text)) {
    if (cloudlink::acme::base64url(*decoded) != text) std::abort();
  }
  if (cloudlink::acme::base64url_decode(cloudlink::acme::base64url(text)) != text) std::abort();
  return 0;
}
