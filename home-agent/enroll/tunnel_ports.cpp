#include "home-agent/enroll/tunnel_ports.h"

#include <algorithm>
#include <string>

namespace cloudlink::home {
namespace {

// A refusal that is not an errno: the message says it all (no ": Invalid argument" tail).
Error refusal(std::string message) { return Error(std::error_code(), std::move(message)); }

}  // namespace

Result<std::vector<uint16_t>> pick_tunnel_ports(const std::vector<uint16_t>& block,
                                                const std::vector<uint16_t>& used, size_t count) {
  if (count == 0) return refusal("a service needs at least one connection");
  std::vector<uint16_t> picked;
  for (uint16_t port : block) {
    if (picked.size() == count) break;
    bool taken = std::find(used.begin(), used.end(), port) != used.end() ||
                 std::find(picked.begin(), picked.end(), port) != picked.end();
    if (!taken) picked.push_back(port);
  }
  if (picked.size() < count) {
    return refusal("the home's port block has " + std::to_string(picked.size()) +
                   " free port(s), " + std::to_string(count) +
                   " wanted (unexpose a service, or ask for fewer --connections)");
  }
  return picked;
}

}  // namespace cloudlink::home
