// RAII owner of one io_uring, created with the best set-up flags this kernel accepts.
#pragma once

#include <liburing.h>

#include "common/result.h"

namespace cloudlink::dataplane {

class Ring {
 public:
  // Tries SINGLE_ISSUER|DEFER_TASKRUN (6.1+), then COOP_TASKRUN (5.19+), then no flags.
  static Result<Ring> create(unsigned entries);

  Ring(Ring&& other) noexcept;
  Ring& operator=(Ring&&) = delete;
  Ring(const Ring&) = delete;
  ~Ring();

  io_uring* get() { return &ring_; }
  // A free submission entry; submits the queue to make room when it is full. Never null.
  io_uring_sqe* sqe();
  const char* setup_name() const { return setup_name_; }

 private:
  Ring() = default;
  io_uring ring_{};
  bool live_ = false;
  const char* setup_name_ = "";
};

}  // namespace cloudlink::dataplane
