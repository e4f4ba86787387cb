// A bound on concurrent password hashing. Each Argon2id hash or check costs 64 MiB and about
// a second of CPU (PasswordCost::kInteractive): without a bound, a burst of sign-ups or
// logins grows memory with the burst. At most `concurrent` run at once; up to `max_waiting`
// more wait their turn for at most `max_wait`; anything beyond that, or a wait that runs out,
// is a busy error (503, "retry in 1 s") instead of more memory.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "common/result.h"

namespace cloudlink::state {

class PasswordGate {
 public:
  PasswordGate(unsigned concurrent, unsigned max_waiting, std::chrono::milliseconds max_wait);

  // Held while one hash runs; releases its place when it goes.
  class Slot {
   public:
    Slot(Slot&& other) noexcept : gate_(std::exchange(other.gate_, nullptr)) {}
    Slot& operator=(Slot&&) = delete;
    ~Slot();

   private:
    friend class PasswordGate;
    explicit Slot(PasswordGate* gate) : gate_(gate) {}
    PasswordGate* gate_;
  };

  Result<Slot> acquire();
  unsigned running() const;

 private:
  void release();

  const unsigned concurrent_;
  const unsigned max_waiting_;
  const std::chrono::milliseconds max_wait_;
  mutable std::mutex mutex_;
  std::condition_variable freed_;
  unsigned running_ = 0;
  unsigned waiting_ = 0;
};

}  // namespace cloudlink::state
