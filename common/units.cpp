#include "common/units.h"

#include <array>
#include <limits>
#include <string>
#include <utility>

namespace cloudlink {
namespace {

// The digits at the start of text and what follows them; nothing when there are no digits
// or the number overflows.
struct Number {
  uint64_t value = 0;
  std::string_view unit;
};

Result<Number> leading_number(std::string_view text, const char* what) {
  Number out;
  size_t i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (out.value > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      return invalid(std::string(what) + ": the number is too large");
    }
    out.value = out.value * 10 + digit;
  }
  if (i == 0) return invalid(std::string(what) + ": expected a number, as in " + what + "s");
  out.unit = text.substr(i);
  return out;
}

template <size_t N>
Result<uint64_t> scaled(std::string_view text, const char* what,
                        const std::array<std::pair<std::string_view, uint64_t>, N>& units,
                        uint64_t limit, const char* known) {
  auto number = leading_number(text, what);
  if (!number) return number.error();
  for (const auto& [unit, factor] : units) {
    if (number->unit != unit) continue;
    if (number->value > limit / factor) return invalid(std::string(what) + ": too large");
    return number->value * factor;
  }
  return invalid(std::string(what) + ": unknown unit \"" + std::string(number->unit.substr(0, 16)) +
                 "\" (use " + known + ")");
}

}  // namespace

Result<uint64_t> parse_byte_size(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, uint64_t>, 6> kUnits{{
      {"", 1},
      {"B", 1},
      {"KiB", uint64_t{1} << 10},
      {"MiB", uint64_t{1} << 20},
      {"GiB", uint64_t{1} << 30},
      {"TiB", uint64_t{1} << 40},
  }};
  return scaled(text, "size", kUnits, std::numeric_limits<uint64_t>::max(),
                "B, KiB, MiB, GiB, TiB");
}

Result<int64_t> parse_duration_seconds(std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, uint64_t>, 5> kUnits{{
      {"", 1},
      {"s", 1},
      {"m", 60},
      {"h", 3600},
      {"d", 86400},
  }};
  // At most about 10^4 years: far beyond any retention, and no time arithmetic overflows.
  constexpr uint64_t kLimit = uint64_t{1} << 38;
  auto seconds = scaled(text, "duration", kUnits, kLimit, "s, m, h, d");
  if (!seconds) return seconds.error();
  return static_cast<int64_t>(*seconds);
}

}  // namespace cloudlink
