// ClientHello parser on arbitrary bytes: the result must keep the promises of clienthello.h,
// and "read more" must be stable under truncation and "complete" under appending.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "dataplane/clienthello.h"

namespace {

using cloudlink::tls::HelloResult;
using cloudlink::tls::HelloStatus;
using cloudlink::tls::kMaxClientHelloBytes;

// An exactly-sized heap block, so ASan catches a write one past the end.
std::vector<uint8_t>& scratch() {
  static std::vector<uint8_t> block(kMaxClientHelloBytes);
  return block;
}

bool inside(std::string_view s, const uint8_t* begin, size_t size) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  return p >= begin && p + s.size() <= begin + size;
}

HelloResult parse_checked(const uint8_t* data, size_t size) {
  const HelloResult r = cloudlink::tls::parse_client_hello({data, size}, scratch());
  if (r.reason == nullptr) std::abort();
  switch (r.status) {
    case HelloStatus::kComplete:
      if (r.reason[0] != '\0') std::abort();
      if (!r.server_name.empty() && !inside(r.server_name, data, size) &&
          !inside(r.server_name, scratch().data(), scratch().size())) {
        std::abort();
      }
      break;
    case HelloStatus::kNeedMore:
      if (r.reason[0] != '\0' || !r.server_name.empty()) std::abort();
      break;
    case HelloStatus::kNotTls:
    case HelloStatus::kMalformed:
    case HelloStatus::kTooLarge:
      if (r.reason[0] == '\0' || !r.server_name.empty()) std::abort();
      break;
    default:
      std::abort();
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const HelloResult r = parse_checked(data, size);
  if (r.status == HelloStatus::kNeedMore && size > 0) {
    // A prefix of "consistent so far" is consistent so far.
    std::vector<uint8_t> shorter(data, data + size - 1);
    if (parse_checked(shorter.data(), shorter.size()).status != HelloStatus::kNeedMore) {
      std::abort();
    }
  }
  if (r.status == HelloStatus::kComplete) {
    // Bytes after the ClientHello are not read; the name must not change. Copy it first: it
    // may live in scratch, which the second parse overwrites.
    const std::vector<char> name(r.server_name.begin(), r.server_name.end());
    std::vector<uint8_t> longer(data, data + size);
    longer.push_back(0x15);
    const HelloResult again = parse_checked(longer.data(), longer.size());
    if (again.status != HelloStatus::kComplete || again.server_name.size() != name.size() ||
        !std::equal(name.begin(), name.end(), again.server_name.begin())) {
      std::abort();
    }
  }
  return 0;
}
