// Pipes for the splice relay: a flow borrows one only while bytes move through it and gives it
// back when the pipe is empty, so idle flows hold no pipe. A few are kept for reuse.
#pragma once

#include <cstddef>
#include <vector>

namespace cloudlink::dataplane {

struct Pipe {
  int read_fd = -1;
  int write_fd = -1;
  bool valid() const { return read_fd >= 0; }
};

class PipePool {
 public:
  // pipe_size: F_SETPIPE_SZ request (the kernel may round or cap it); keep: pipes kept idle.
  PipePool(int pipe_size, size_t keep) : pipe_size_(pipe_size), keep_(keep) {}
  ~PipePool();
  PipePool(const PipePool&) = delete;
  PipePool& operator=(const PipePool&) = delete;

  // A pipe, or an invalid one when the process is out of descriptors.
  Pipe acquire();
  // Takes back an EMPTY pipe; closes it when enough are already kept.
  void release(Pipe p);
  // Takes back a pipe that still holds bytes: it is closed, never reused.
  void release_discarding(Pipe p);
  size_t capacity() const { return static_cast<size_t>(pipe_size_); }
  size_t in_use() const { return in_use_; }

 private:
  int pipe_size_;
  size_t keep_;
  size_t in_use_ = 0;
  std::vector<Pipe> idle_;
};

}  // namespace cloudlink::dataplane
