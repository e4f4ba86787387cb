// The dataplane's descriptor budget. systemd starts services with a soft RLIMIT_NOFILE of 1024
// (the hard limit is far higher), which a relay hits long before --max-connections: at start
// the soft limit is raised to the hard one, and a --max-connections that still cannot fit is
// said once, in one line, before the first client finds out through a failed accept.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "dataplane/config.h"

namespace cloudlink::dataplane {

struct FdLimit {
  uint64_t soft = 0;
  uint64_t hard = 0;
};

// Sets the soft RLIMIT_NOFILE to the hard one; the limits then in effect.
Result<FdLimit> raise_fd_limit();

// Descriptors the dataplane holds at its busiest with config: per relayed connection its two
// sockets, and for splice two pipes (four descriptors) while bytes move both ways; per worker
// its listeners, ring and kept pipes; plus a fixed share for stdio, LMDB, /metrics and BPF.
uint64_t descriptors_needed(const Config& config);

// The start-up line when descriptors_needed(config) exceeds limit.soft; empty when it fits.
std::string fd_limit_warning(const Config& config, const FdLimit& limit);

}  // namespace cloudlink::dataplane
