// What control's connection loop makes of a request head (control/http/connection.cpp): the
// head read with control's 16 KiB cap, its fields looked up, its body framing decided and its
// target decoded. Stays inside its input, agrees with itself, never decodes a bad escape.
#include <cstdlib>
#include <span>
#include <string_view>

#include "common/http_head.h"
#include "control/http/request_framing.h"
#include "control/http/request_target.h"

namespace {

constexpr size_t kCap = 16 * 1024;

bool inside(std::string_view view, const uint8_t* data, size_t size) {
  if (view.empty()) return true;
  auto* begin = reinterpret_cast<const char*>(data);
  return view.data() >= begin && view.data() + view.size() <= begin + size;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using cloudlink::http::HeadStatus;
  const std::span<const uint8_t> input(data, size);
  const auto head = cloudlink::http::parse_request_head(input, kCap);
  if (head.status == HeadStatus::kTooLarge && size < kCap) std::abort();
  if (head.status != HeadStatus::kComplete) return 0;
  if (head.head_length > kCap || !inside(head.fields, data, size)) std::abort();
  for (std::string_view name : {"Content-Length", "Transfer-Encoding", "Expect", "Connection",
                                "Content-Type", "Authorization", "Host"}) {
    const auto field = cloudlink::http::find_field(head, name);
    if (!inside(field.value, data, size) || (field.count == 0 && !field.value.empty())) {
      std::abort();
    }
    for (char c : field.value) {
      if (c == '\r' || c == '\n') std::abort();
    }
  }
  const auto framing = cloudlink::control::http::frame_request(head, 64 * 1024);
  if (framing.refuse_status == 0 && framing.body_length > 64 * 1024) std::abort();
  if (framing.refuse_status != 0 && framing.keep_alive) std::abort();
  const auto target = cloudlink::control::http::decode_request_target(head.target);
  if (target && target->path.size() > head.target.size()) std::abort();
  return 0;
}
