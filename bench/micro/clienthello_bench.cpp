// ClientHello parse cost on a real capture (openssl s_client, TLS 1.3): as sent, in one record
// (parsed in place), and re-framed into three records (joined in scratch first).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "dataplane/clienthello.h"

namespace {

using Bytes = std::vector<uint8_t>;
using cloudlink::tls::HelloStatus;

constexpr size_t kRecordHeader = 5;

Bytes read_vector(const char* name) {
  std::ifstream in(std::string(CLOUDLINK_TEST_VECTORS) + "/" + name, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The single record's handshake bytes cut into `count` records of near-equal size.
Bytes split_into_records(const Bytes& one_record, size_t count) {
  if (one_record.size() <= kRecordHeader) return {};
  const Bytes handshake(one_record.begin() + kRecordHeader, one_record.end());
  Bytes out;
  for (size_t i = 0; i < count; ++i) {
    const size_t from = handshake.size() * i / count;
    const size_t to = handshake.size() * (i + 1) / count;
    const size_t length = to - from;
    out.insert(out.end(),
               {22, 3, 1, static_cast<uint8_t>(length >> 8), static_cast<uint8_t>(length)});
    out.insert(out.end(), handshake.begin() + from, handshake.begin() + to);
  }
  return out;
}

void run_parse(benchmark::State& state, const Bytes& data) {
  Bytes scratch(cloudlink::tls::kMaxClientHelloBytes);
  if (data.empty()) {
    state.SkipWithError("test vector not found");
    return;
  }
  for (auto _ : state) {
    const auto result = cloudlink::tls::parse_client_hello(data, scratch);
    if (result.status != HelloStatus::kComplete || result.server_name.empty()) {
      state.SkipWithError("vector did not parse");
      break;
    }
    benchmark::DoNotOptimize(result);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}

void BM_ParseOneRecord(benchmark::State& state) {
  run_parse(state, read_vector("openssl_tls13.bin"));
}

void BM_ParseThreeRecords(benchmark::State& state) {
  run_parse(state, split_into_records(read_vector("openssl_tls13.bin"), 3));
}

BENCHMARK(BM_ParseOneRecord);
BENCHMARK(BM_ParseThreeRecords);

}  // namespace
