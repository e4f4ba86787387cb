#include "control/http/handler_pool.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

namespace cloudlink::control::http {

HandlerPool::HandlerPool(size_t threads, size_t max_queued, Run run)
    : threads_(threads == 0 ? 1 : threads),
      max_queued_(max_queued == 0 ? 1 : max_queued),
      run_(std::move(run)),
      notify_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!notify_) throw std::system_error(errno, std::generic_category(), "eventfd");
}

void HandlerPool::start() {
  for (size_t i = 0; i < threads_; ++i) workers_.emplace_back([this] { work(); });
}

bool HandlerPool::submit(Job& job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

std::vector<Answer> HandlerPool::take_answers() {
  uint64_t count = 0;
  // Reset the eventfd first: an answer pushed after it is seen by the next wake-up.
  while (::read(notify_.get(), &count, sizeof count) < 0 && errno == EINTR) {
  }
  std::lock_guard lock(mutex_);
  return std::exchange(answers_, {});
}

void HandlerPool::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  wake_.notify_all();
  for (auto& worker : workers_) worker.join();
  workers_.clear();
}

void HandlerPool::work() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    Answer answer = run_(job);
    {
      std::lock_guard lock(mutex_);
      answers_.push_back(std::move(answer));
    }
    const uint64_t one = 1;
    while (::write(notify_.get(), &one, sizeof one) < 0 && errno == EINTR) {
    }
  }
}

}  // namespace cloudlink::control::http
