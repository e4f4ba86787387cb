// Handing the listening sockets from a running dataplane to its successor (an upgrade without
// a refused connection), in the manner of HAProxy's `expose-fd listeners` / `-x`: the sockets
// themselves travel over a Unix socket (SCM_RIGHTS), so the kernel's accept queues are never
// closed and no connection finds the port without a listener.
//
// The exchange, over one AF_UNIX SOCK_SEQPACKET pair (message boundaries kept, so each batch of
// descriptors arrives with its own header):
//   old -> new  kOffer {count}, then ceil(count / kFdsPerBatch) kBatch messages carrying fds
//   new -> old  kReady {pid}      the successor's workers accept on every socket
//   old -> new  kReleased         the old one stopped accepting and let go of /metrics
// Then the old one drains its connections (bounded by --drain-timeout) and exits. Any failure
// before kReady leaves the old one serving as before.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace cloudlink::dataplane {

inline constexpr size_t kFdsPerBatch = 200;  // below the kernel's SCM_MAX_FD (253)
inline constexpr size_t kMaxHandedListeners = 65536;

// The old process's side.
Result<void> send_listeners(int sock, const std::vector<int>& listeners);
// Waits up to timeout for kReady; the successor's pid. EOF (it exited) and a timeout are errors.
Result<pid_t> wait_ready(int sock, std::chrono::milliseconds timeout);
Result<void> send_released(int sock);

// The successor's side. Every received descriptor is close-on-exec.
Result<std::vector<UniqueFd>> receive_listeners(int sock, std::chrono::milliseconds timeout);
Result<void> send_ready(int sock);
Result<void> wait_released(int sock, std::chrono::milliseconds timeout);

}  // namespace cloudlink::dataplane
