// Route record decoder: must never crash on any bytes, and every record it accepts must
// re-encode to exactly the same bytes (the encoding is canonical) and decode again.
#include <cstdlib>
#include <cstring>

#include "common/route_record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto decoded = cloudlink::decode_route({data, size});
  if (!decoded) return 0;
  std::string encoded = cloudlink::encode_route(decoded.value());
  if (encoded.size() != size || std::memcmp(encoded.data(), data, size) != 0) std::abort();
  auto again =
      cloudlink::decode_route({reinterpret_cast<const uint8_t*>(encoded.data()), encoded.size()});
  if (!again || cloudlink::encode_route(again.value()) != encoded) std::abort();
  return 0;
}
