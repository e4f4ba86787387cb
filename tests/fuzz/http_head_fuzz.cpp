// The HTTP request head reader on arbitrary bytes: stays inside its input, and agrees with
// itself: a complete head parses the same from its own bytes, and every prefix of it is only
// "need more".
#include <cstdlib>
#include <span>

#include "common/http_head.h"

namespace {

bool inside(std::string_view view, const uint8_t* data, size_t size) {
  if (view.empty()) return true;
  auto* begin = reinterpret_cast<const char*>(data);
  return view.data() >= begin && view.data() + view.size() <= begin + size;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using cloudlink::http::HeadStatus;
  const std::span<const uint8_t> input(data, size);
  const auto r = cloudlink::http::parse_request_head(input);
  if (r.status != HeadStatus::kComplete) return 0;
  if (r.head_length > size || r.head_length > cloudlink::http::kMaxRequestHeadBytes) std::abort();
  if (!inside(r.method, data, size) || !inside(r.host, data, size)) std::abort();
  if (r.target != "/" && r.target != "*" && !inside(r.target, data, size)) std::abort();
  if (!inside(r.fields, data, size)) std::abort();
  const auto host = cloudlink::http::find_field(r, "host");
  if (!inside(host.value, data, size) || (r.version_minor == 1 && host.count == 0)) std::abort();
  const auto again = cloudlink::http::parse_request_head(input.first(r.head_length));
  if (again.status != HeadStatus::kComplete || again.host != r.host || again.target != r.target ||
      again.method != r.method) {
    std::abort();
  }
  if (r.head_length <= 512) {
    for (size_t n = 0; n < r.head_length; ++n) {
      if (cloudlink::http::parse_request_head(input.first(n)).status != HeadStatus::kNeedMore) {
        std::abort();
      }
    }
  }
  return 0;
}
