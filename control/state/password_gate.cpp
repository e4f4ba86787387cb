#include "control/state/password_gate.h"

#include <algorithm>

#include "control/state/errors.h"

namespace cloudlink::state {

PasswordGate::PasswordGate(unsigned concurrent, unsigned max_waiting,
                           std::chrono::milliseconds max_wait)
    : concurrent_(std::max(concurrent, 1u)), max_waiting_(max_waiting), max_wait_(max_wait) {}

PasswordGate::Slot::~Slot() {
  if (gate_ != nullptr) gate_->release();
}

Result<PasswordGate::Slot> PasswordGate::acquire() {
  std::unique_lock lock(mutex_);
  if (running_ < concurrent_) {
    running_++;
    return Slot(this);
  }
  if (waiting_ >= max_waiting_) {
    return retry_later(StateErrc::kBusy, "busy: too many password checks at once", 1);
  }
  waiting_++;
  bool got = freed_.wait_for(lock, max_wait_, [this] { return running_ < concurrent_; });
  waiting_--;
  if (!got) return retry_later(StateErrc::kBusy, "busy: too many password checks at once", 1);
  running_++;
  return Slot(this);
}

void PasswordGate::release() {
  {
    std::lock_guard lock(mutex_);
    running_--;
  }
  freed_.notify_one();
}

unsigned PasswordGate::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

}  // namespace cloudlink::state
