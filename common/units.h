// Numbers with units, as flags and settings files write them: byte sizes ("64MiB", "1GiB",
// "1048576") and durations ("90d", "15m", "3600s", "3600"). Strict: digits then one known
// unit, no sign, no spaces, no fractions, no overflow.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace cloudlink {

// B (or none), KiB, MiB, GiB, TiB.
Result<uint64_t> parse_byte_size(std::string_view text);
// s (or none), m, h, d; in seconds.
Result<int64_t> parse_duration_seconds(std::string_view text);

}  // namespace cloudlink
