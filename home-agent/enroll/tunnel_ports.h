// Which of the home's tunnel ports a new service gets: the lowest ones of its block that no
// other service of the config uses yet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/result.h"

namespace cloudlink::home {

// count ports of block, in block order, none of them in used. An error saying how many are
// free when fewer than count are.
Result<std::vector<uint16_t>> pick_tunnel_ports(const std::vector<uint16_t>& block,
                                                const std::vector<uint16_t>& used, size_t count);

}  // namespace cloudlink::home
