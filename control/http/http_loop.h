// Control's HTTP server loop: one thread owns the listener, accept, every connection's reads
// and writes (edge-triggered epoll), the PROXY header, the TLS handshake (OpenSSL,
// non-blocking) and every deadline (one FIFO list per timeout, common/deadline_list.h: a slow
// or silent client costs a list link, not a thread). Complete requests go to a small bounded
// pool of handler threads (control/http/handler_pool.h); their answers come back through the
// loop. Connections are bounded overall and per client address (connection_limits.h).
//
// Why our own loop rather than a library: cpp-httplib 0.11 holds a pool thread per
// connection (16 silent sockets stalled the API for 8-19 s) and has no cap on the header
// count; libmicrohttpd's TLS is GnuTLS only (control's HTTPS uses OpenSSL with the reloading
// context in common/tls) and it cannot read a PROXY header before TLS; Boost.Beast would do,
// at a heavy compile and a second async model beside the dataplane's. The request head is
// read by the strict parser the dataplane already uses (common/http_head.h).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/deadline_list.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "control/http/connection.h"
#include "control/http/connection_limits.h"
#include "control/http/handler_pool.h"
#include "control/http/http_metrics.h"
#include "control/http/loop_options.h"
#include "control/http/site.h"
#include "control/http/tls_context.h"

namespace cloudlink::control::http {

class HttpLoop {
 public:
  // site, tls (null: plain HTTP) and metrics (null: not counted) must outlive the loop.
  HttpLoop(LoopOptions options, const Site& site, TlsContext* tls, const HttpMetrics* metrics);
  ~HttpLoop();
  HttpLoop(const HttpLoop&) = delete;
  HttpLoop& operator=(const HttpLoop&) = delete;

  // Binds host:port (an IP address; port 0: any free port) and listens; returns the port.
  Result<uint16_t> bind(const std::string& host, uint16_t port);
  // Serves until stop(): then stops accepting, lets answers being made or written finish
  // (at most write_timeout), closes the rest.
  Result<void> run();
  // From any thread, before or during run().
  void stop();

 private:
  using Clock = std::chrono::steady_clock;
  struct Slot {
    std::unique_ptr<Connection> connection;
    uint32_t generation = 1;
    uint32_t armed_epoch = 0;
    bool in_pool = false;
    bool queued = false;  // in ready_
  };

  void accept_ready();
  void refuse_now(UniqueFd fd, const char* reason);
  void pause_accept();
  void resume_accept();
  uint32_t new_slot();
  void on_event(uint64_t key);
  void on_answers();
  void run_ready();
  void expire_deadlines();
  void beat();  // the heartbeat, when it is due
  // After anything touched slot's connection: hand a finished request to the pool, re-arm
  // its deadline, queue it when it wants another turn, or close it.
  void settle(uint32_t slot);
  void destroy(uint32_t slot);
  void begin_stop();
  bool drained() const;
  int epoll_timeout_ms() const;
  int64_t now_ns() const;
  Slot* slot_for(uint64_t key);
  DeadlineList* list_for(Connection::Timer timer);
  std::chrono::nanoseconds duration_of(Connection::Timer timer) const;
  Answer busy_answer(const Job& job) const;

  LoopOptions options_;
  const Site& site_;
  TlsContext* tls_;
  const HttpMetrics* metrics_;
  ConnectionLimits limits_;
  Connection::Env env_;
  HandlerPool pool_;

  UniqueFd listener_;
  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd: stop()
  std::atomic<bool> stop_requested_{false};
  bool stopping_ = false;
  Clock::time_point drain_deadline_{};
  bool accept_paused_ = false;
  Clock::time_point accept_resume_{};
  Clock::time_point last_fd_log_{};
  Clock::time_point next_heartbeat_{};

  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  std::vector<DeadlineLink> links_;
  DeadlineList request_deadlines_{0, &links_};
  DeadlineList write_deadlines_{1, &links_};
  DeadlineList idle_deadlines_{2, &links_};
  DeadlineList linger_deadlines_{3, &links_};
  std::vector<uint64_t> ready_;
};

}  // namespace cloudlink::control::http
