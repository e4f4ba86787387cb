#include "dataplane/pipe_pool.h"

#include <fcntl.h>
#include <unistd.h>

namespace cloudlink::dataplane {

PipePool::~PipePool() {
  for (const Pipe& p : idle_) {
    ::close(p.read_fd);
    ::close(p.write_fd);
  }
}

Pipe PipePool::acquire() {
  Pipe p;
  if (!idle_.empty()) {
    p = idle_.back();
    idle_.pop_back();
  } else {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return {};
    // A larger pipe moves more per splice; failure (pipe-max-size) leaves the default 64 KiB.
    ::fcntl(fds[1], F_SETPIPE_SZ, pipe_size_);
    p = {fds[0], fds[1]};
    int actual = ::fcntl(fds[1], F_GETPIPE_SZ);
    if (actual > 0) pipe_size_ = actual;
  }
  ++in_use_;
  return p;
}

void PipePool::release(Pipe p) {
  if (!p.valid()) return;
  --in_use_;
  if (idle_.size() < keep_) {
    idle_.push_back(p);
    return;
  }
  ::close(p.read_fd);
  ::close(p.write_fd);
}

void PipePool::release_discarding(Pipe p) {
  if (!p.valid()) return;
  --in_use_;
  ::close(p.read_fd);
  ::close(p.write_fd);
}

}  // namespace cloudlink::dataplane
