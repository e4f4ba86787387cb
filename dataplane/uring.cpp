#include "dataplane/uring.h"

#include <cstring>
#include <utility>

namespace cloudlink::dataplane {

Result<Ring> Ring::create(unsigned entries) {
  struct Attempt {
    unsigned flags;
    const char* name;
  };
  const Attempt attempts[] = {
      {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, "single_issuer+defer_taskrun"},
      {IORING_SETUP_COOP_TASKRUN, "coop_taskrun"},
      {0, "default"},
  };
  Ring ring;
  int last = 0;
  for (const auto& a : attempts) {
    io_uring_params params;
    std::memset(&params, 0, sizeof params);
    params.flags = a.flags | IORING_SETUP_CQSIZE;
    params.cq_entries = entries * 4;  // multishot accept and relays complete more than submit
    last = io_uring_queue_init_params(entries, &ring.ring_, &params);
    if (last == 0) {
      ring.live_ = true;
      ring.setup_name_ = a.name;
      return ring;
    }
    if (last != -EINVAL) break;  // EINVAL = flag unknown to this kernel; anything else is fatal
  }
  return Error(-last, "io_uring_queue_init");
}

Ring::Ring(Ring&& other) noexcept
    : ring_(other.ring_),
      live_(std::exchange(other.live_, false)),
      setup_name_(other.setup_name_) {}

Ring::~Ring() {
  if (live_) io_uring_queue_exit(&ring_);
}

io_uring_sqe* Ring::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  while (s == nullptr) {
    io_uring_submit(&ring_);
    s = io_uring_get_sqe(&ring_);
  }
  return s;
}

}  // namespace cloudlink::dataplane
