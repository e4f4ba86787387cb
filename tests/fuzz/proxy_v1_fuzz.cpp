// PROXY v1 and the v1/v2 dispatcher on arbitrary bytes: a complete header is never longer than
// its input or 107 bytes (v1), and one byte less of it is never complete.
#include <cstdlib>

#include "common/proxy_v1.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using cloudlink::ProxyParseStatus;
  cloudlink::ProxyV2Header header;
  const char* error = nullptr;
  const std::span<const uint8_t> input(data, size);
  ProxyParseStatus status = cloudlink::decode_proxy_v1(input, header, &error);
  if (status == ProxyParseStatus::kInvalid && error == nullptr) std::abort();
  if (status == ProxyParseStatus::kComplete) {
    if (header.length > size || header.length > cloudlink::kProxyV1MaxLength) std::abort();
    if (!header.local_command && (header.source.empty() || header.destination.empty())) {
      std::abort();
    }
    cloudlink::ProxyV2Header shorter;
    if (cloudlink::decode_proxy_v1(input.first(header.length - 1), shorter, nullptr) ==
        ProxyParseStatus::kComplete) {
      std::abort();
    }
  }
  error = nullptr;
  status = cloudlink::decode_proxy_header(input, 1024, header, &error);
  if (status == ProxyParseStatus::kInvalid && error == nullptr) std::abort();
  if (status == ProxyParseStatus::kComplete && (header.length > size || header.length > 1024)) {
    std::abort();
  }
  return 0;
}
