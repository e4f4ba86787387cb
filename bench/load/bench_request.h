// The 16 bytes the load generator sends right after its ClientHello, telling the benchmark
// backend what to do with the connection. One definition, used by both programs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace cloudlink::bench {

enum class ServeMode : uint8_t {
  kSink = 's',          // read and discard until EOF
  kSource = 'o',        // write as fast as possible until the peer goes away
  kSinkSource = 'b',    // both at once
  kEcho = 'e',          // write back every byte read
  kRequestReply = 'r',  // read request_bytes, write reply_bytes, close
};

struct BenchRequest {
  ServeMode mode = ServeMode::kSink;
  uint32_t request_bytes = 0;
  uint32_t reply_bytes = 0;
};

inline constexpr size_t kBenchRequestLength = 16;
inline constexpr uint8_t kBenchMagic[4] = {'C', 'L', 'B', '1'};
// The backend refuses larger request-reply sizes so a corrupt header cannot make it allocate.
inline constexpr uint32_t kMaxRequestReplyBytes = 1 << 20;

// Layout: magic[4] mode[1] zero[3] request_bytes[4, big-endian] reply_bytes[4, big-endian].
inline void encode_bench_request(const BenchRequest& request,
                                 std::span<uint8_t, kBenchRequestLength> out) {
  auto put32 = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) out[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
  };
  for (size_t i = 0; i < 4; ++i) out[i] = kBenchMagic[i];
  out[4] = static_cast<uint8_t>(request.mode);
  out[5] = out[6] = out[7] = 0;
  put32(8, request.request_bytes);
  put32(12, request.reply_bytes);
}

inline std::optional<BenchRequest> decode_bench_request(
    std::span<const uint8_t, kBenchRequestLength> in) {
  for (size_t i = 0; i < 4; ++i) {
    if (in[i] != kBenchMagic[i]) return std::nullopt;
  }
  auto get32 = [&](size_t at) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | in[at + i];
    return v;
  };
  BenchRequest request;
  request.mode = static_cast<ServeMode>(in[4]);
  request.request_bytes = get32(8);
  request.reply_bytes = get32(12);
  switch (request.mode) {
    case ServeMode::kSink:
    case ServeMode::kSource:
    case ServeMode::kSinkSource:
    case ServeMode::kEcho:
      return request;
    case ServeMode::kRequestReply:
      if (request.request_bytes > kMaxRequestReplyBytes ||
          request.reply_bytes > kMaxRequestReplyBytes) {
        return std::nullopt;
      }
      return request;
  }
  return std::nullopt;
}

}  // namespace cloudlink::bench
