// The threads that run request handlers, apart from the connection loop: a handler may block
// (login runs Argon2id: ~64 MiB and 100+ ms), the loop never does. The queue is bounded: when
// it is full the loop answers 503 itself. Answers come back through a queue the loop drains
// when notify_fd() (an eventfd) is readable.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.h"
#include "control/http/message.h"

namespace cloudlink::control::http {

struct Job {
  uint64_t key = 0;  // whose request: the loop's connection slot and generation
  RawRequest request;
  bool keep_alive = true;  // the answer keeps the connection open
  bool head_only = false;  // HEAD: the answer without its body
};

struct Answer {
  uint64_t key = 0;
  std::string bytes;  // the whole response
  int status = 0;
  std::string route;  // the metrics label
  bool close = false;
  std::string user;  // for the request log: who the token belonged to, empty: nobody
};

class HandlerPool {
 public:
  using Run = std::function<Answer(Job&)>;

  // Throws std::system_error when no eventfd can be made (at start-up only).
  HandlerPool(size_t threads, size_t max_queued, Run run);
  ~HandlerPool() { stop(); }
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;

  // Starts the threads (call once, from the thread whose signal mask they should inherit).
  void start();
  // Takes job, or leaves it as it was and returns false when max_queued jobs wait already.
  bool submit(Job& job);
  // The answers finished since the last call.
  std::vector<Answer> take_answers();
  int notify_fd() const { return notify_.get(); }
  // Lets running handlers finish, drops queued jobs, joins the threads.
  void stop();

 private:
  void work();

  size_t threads_;
  size_t max_queued_;
  Run run_;
  UniqueFd notify_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  std::vector<Answer> answers_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace cloudlink::control::http
