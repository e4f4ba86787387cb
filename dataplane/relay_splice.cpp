// The splice relay: the kernel moves bytes socket -> pipe -> socket without copying them to
// user space. io_uring only polls for readiness; splice(2) itself runs on non-blocking
// sockets, so it never parks an io-wq thread on a slow peer. A pipe is borrowed from the pool
// only while bytes are in it.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "dataplane/worker.h"

namespace cloudlink::dataplane {

namespace {
constexpr uint8_t kPollOut = 0x2;       // aux bit: the poll waits for the destination to drain
constexpr int kMaxRoundsPerWakeup = 8;  // fairness: a busy flow yields to the others
constexpr unsigned kSpliceFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
}  // namespace

void Worker::splice_arm_poll(uint32_t slot, Dir d, bool out) {
  Connection& c = conn(slot);
  Direction& dir = c.dirs[d];
  bool& armed = out ? dir.poll_out_armed : dir.poll_in_armed;
  if (armed) return;
  io_uring_sqe* sqe = submit(Op::kSplicePoll, slot, static_cast<uint8_t>(d | (out ? kPollOut : 0)));
  if (out) {
    io_uring_prep_poll_add(sqe, destination_fd(c, d), POLLOUT);
  } else {
    io_uring_prep_poll_add(sqe, source_fd(c, d), POLLIN | POLLRDHUP);
  }
  armed = true;
}

void Worker::on_splice_poll(uint32_t slot, uint8_t aux, int res) {
  Connection& c = conn(slot);
  const Dir d = static_cast<Dir>(aux & 1);
  Direction& dir = c.dirs[d];
  ((aux & kPollOut) != 0 ? dir.poll_out_armed : dir.poll_in_armed) = false;
  if (res < 0) {
    fail_flow(slot, -res);
    return;
  }
  splice_pump(slot, d);
}

void Worker::splice_pump(uint32_t slot, Dir d) {
  Connection& c = conn(slot);
  Direction& dir = c.dirs[d];
  if (dir.poll_out_armed) return;  // still waiting for room at the destination
  for (int round = 0; round < kMaxRoundsPerWakeup; ++round) {
    if (dir.in_pipe > 0) {
      const ssize_t m = ::splice(dir.pipe.read_fd, nullptr, destination_fd(c, d), nullptr,
                                 dir.in_pipe, kSpliceFlags);
      if (m < 0 && errno != EAGAIN) return fail_flow(slot, errno);
      if (m > 0) dir.in_pipe -= static_cast<uint32_t>(m);
      if (dir.in_pipe > 0) return splice_arm_poll(slot, d, true);
    }
    if (dir.eof) break;
    if (!dir.pipe.valid()) {
      dir.pipe = pipes_.acquire();
      if (!dir.pipe.valid()) return fail_flow(slot, EMFILE);
    }
    const ssize_t n = ::splice(source_fd(c, d), nullptr, dir.pipe.write_fd, nullptr,
                               pipes_.capacity(), kSpliceFlags);
    if (n == 0) {
      dir.eof = true;
    } else if (n < 0) {
      if (errno != EAGAIN) return fail_flow(slot, errno);
      break;
    } else {
      dir.in_pipe = static_cast<uint32_t>(n);
      c.last_active_ns = now_ns_;
    }
  }
  if (dir.in_pipe == 0 && dir.pipe.valid()) {
    pipes_.release(dir.pipe);
    dir.pipe = Pipe();
  }
  if (dir.eof && dir.in_pipe == 0) return pass_on_eof(slot, d);
  if (dir.in_pipe > 0) return splice_arm_poll(slot, d, true);
  splice_arm_poll(slot, d, false);
}

void Worker::splice_release_pipes(Connection& c) {
  for (Direction& dir : c.dirs) {
    if (!dir.pipe.valid()) continue;
    if (dir.in_pipe == 0) {
      pipes_.release(dir.pipe);
    } else {
      // Bytes still inside: the pipe cannot be reused, so it is closed (and not counted).
      pipes_.release_discarding(dir.pipe);
    }
    dir.pipe = Pipe();
  }
}

}  // namespace cloudlink::dataplane
