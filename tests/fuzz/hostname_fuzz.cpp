// Hostname rules on arbitrary bytes: validation and normalisation must agree with each other.
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "common/hostname.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  bool valid = cloudlink::validate_route_hostname(in).ok();
  char out[cloudlink::kMaxHostnameLength];
  size_t length = cloudlink::normalize_hostname(in, out);
  if (length > cloudlink::kMaxHostnameLength) std::abort();
  if (length > 0) {
    std::string_view normal(out, length);
    // A normalised name is a valid route key and normalising it again changes nothing.
    if (!cloudlink::validate_route_hostname(normal).ok()) std::abort();
    char again[cloudlink::kMaxHostnameLength];
    if (cloudlink::normalize_hostname(normal, again) != length) std::abort();
    if (std::memcmp(again, out, length) != 0) std::abort();
  }
  // A valid route key without a wildcard is already normal.
  if (valid && (size == 0 || data[0] != '*')) {
    if (length != size || std::memcmp(out, data, size) != 0) std::abort();
  }
  return 0;
}
