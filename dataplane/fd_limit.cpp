#include "dataplane/fd_limit.h"

#include <sys/resource.h>

namespace cloudlink::dataplane {
namespace {

constexpr uint64_t kFixedDescriptors = 64;    // stdio, LMDB, /metrics and its clients, BPF maps
constexpr uint64_t kKeptPipesPerWorker = 64;  // PipePool's idle pipes (dataplane/worker.cpp)

uint64_t per_connection(RelayMode relay) {
  // Sockmap falls back to splice per flow when a flow cannot enter the map.
  return relay == RelayMode::kCopy ? 2 : 6;
}

}  // namespace

Result<FdLimit> raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return errno_error("getrlimit RLIMIT_NOFILE");
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) != 0) return errno_error("setrlimit RLIMIT_NOFILE");
    rl = raised;
  }
  return FdLimit{static_cast<uint64_t>(rl.rlim_cur), static_cast<uint64_t>(rl.rlim_max)};
}

uint64_t descriptors_needed(const Config& config) {
  const uint64_t listeners = config.tls_listeners.size() + config.http_listeners.size();
  uint64_t per_worker = listeners + 1;  // one socket per address, the ring
  if (config.relay != RelayMode::kCopy) per_worker += 2 * kKeptPipesPerWorker;
  return kFixedDescriptors + uint64_t{config.workers} * per_worker +
         uint64_t{config.max_connections} * per_connection(config.relay);
}

std::string fd_limit_warning(const Config& config, const FdLimit& limit) {
  const uint64_t needed = descriptors_needed(config);
  if (needed <= limit.soft) return {};
  const uint64_t overhead =
      descriptors_needed(config) - uint64_t{config.max_connections} * per_connection(config.relay);
  const uint64_t fit =
      limit.soft > overhead ? (limit.soft - overhead) / per_connection(config.relay) : 0;
  return "--max-connections " + std::to_string(config.max_connections) + " does not fit in " +
         "the descriptor limit: --relay " + relay_mode_name(config.relay) + " needs about " +
         std::to_string(needed) + " descriptors, RLIMIT_NOFILE is " + std::to_string(limit.soft) +
         " (hard " + std::to_string(limit.hard) + "), so about " + std::to_string(fit) +
         " connections fit; raise LimitNOFILE= or lower --max-connections";
}

}  // namespace cloudlink::dataplane
