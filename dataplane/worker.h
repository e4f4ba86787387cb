// One worker: a thread with its own io_uring, listeners, buffers and connections. Workers share
// nothing but the read-only route table environment and the (atomic) metrics.
#pragma once

#include <linux/time_types.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "common/deadline_list.h"
#include "common/result.h"
#include "common/route_table.h"
#include "common/unique_fd.h"
#include "dataplane/buffer_ring.h"
#include "dataplane/config.h"
#include "dataplane/connection.h"
#include "dataplane/connection_limit.h"
#include "dataplane/listener.h"
#include "dataplane/metrics.h"
#include "dataplane/pipe_pool.h"
#include "dataplane/target_balancer.h"
#include "dataplane/uring.h"
#include "dataplane/user_data.h"
#include "dataplane/watchdog.h"

namespace cloudlink::dataplane {

// Room in front of the ClientHello for a PROXY v2 header (at most 52 bytes).
inline constexpr uint32_t kHelloHeadroom = 64;

class Worker {
 public:
  Worker(const Config& config, Metrics& metrics, RouteTable& routes, ConnectionLimit& limit,
         TargetLoads& target_loads, std::vector<ListenerSocket> listeners,
         const std::atomic<bool>& stop_requested, SockmapRelay* sockmap = nullptr,
         Watchdog* watchdog = nullptr, unsigned index = 0);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  // Sets up the ring, buffers and route reader. Must run on the worker's own thread (the ring
  // is single-issuer).
  Result<void> init();
  // Serves until a requested stop has drained every connection. Returns when done.
  void run();

 private:
  // worker.cpp: loop, accept, timers, close.
  void dispatch(const io_uring_cqe* cqe);
  void arm_accept(size_t listener);
  void arm_tick();
  void on_accept(size_t listener, int res, unsigned flags);
  void on_tick();
  void begin_drain();
  void expire_deadlines();
  uint32_t allocate_slot();
  void close_connection(uint32_t slot, CloseResult result);
  void finish_close(uint32_t slot);
  void log_rejected_accept(int fd, CloseResult result);

  // worker_hello.cpp: ClientHello, route lookup, connect, preamble.
  void submit_hello_recv(uint32_t slot);
  void on_hello_recv(uint32_t slot, int res);
  bool take_proxy_header(uint32_t slot);
  void route_client_hello(uint32_t slot);
  void start_route(uint32_t slot);
  void reject(uint32_t slot, CloseResult result, const uint8_t* alert, uint32_t alert_length);
  void on_alert_sent(uint32_t slot, int res);
  void start_connect(uint32_t slot);
  void on_connect(uint32_t slot, int res);
  void send_preamble(uint32_t slot);
  void on_preamble_sent(uint32_t slot, int res);
  void start_relay(uint32_t slot);
  std::unique_ptr<uint8_t[]> take_hello_buffer();
  void return_hello_buffer(std::unique_ptr<uint8_t[]> buffer);

  // worker_http.cpp: the request head on an HTTP listener, and the answers given there.
  void on_http_head(uint32_t slot);
  void route_http_request(uint32_t slot, std::string_view target);
  void answer_http(uint32_t slot, CloseResult result, std::string_view response);

  // relay_copy.cpp
  void copy_arm_recv(uint32_t slot, Dir d);
  void on_copy_recv(uint32_t slot, Dir d, int res, unsigned flags);
  void copy_send(uint32_t slot, Dir d);
  void on_copy_send(uint32_t slot, Dir d, int res);
  void copy_release_buffers(Connection& c);
  void wake_starved();

  // relay_splice.cpp (splice_start in relay.cpp: sockmap falls back to it per flow)
  void splice_start(uint32_t slot);
  void splice_arm_poll(uint32_t slot, Dir d, bool out);
  void on_splice_poll(uint32_t slot, uint8_t aux, int res);
  void splice_pump(uint32_t slot, Dir d);
  void splice_release_pipes(Connection& c);

  // relay_sockmap.cpp
  bool sockmap_drain_client(uint32_t slot);
  void sockmap_start(uint32_t slot);
  void sockmap_arm_poll(uint32_t slot, Dir d);
  void on_sockmap_poll(uint32_t slot, Dir d, int res);
  void sockmap_try_pass_eof(uint32_t slot, Dir d);
  void on_sockmap_retry(uint32_t slot, Dir d);
  void sockmap_pump(uint32_t slot, Dir d);
  void sockmap_watch_lanes();
  // Re-checks direction d after a backoff delay; `levels` caps how far the backoff grows.
  void sockmap_arm_retry(uint32_t slot, Dir d, size_t levels = SIZE_MAX);
  void on_sockmap_lane_send(uint32_t slot, Dir d, int res);
  void sockmap_release(Connection& c);
  void sockmap_refresh_activity(Connection& c);

  // Shared by all relays: FIN handling and the end of a flow.
  void pass_on_eof(uint32_t slot, Dir d);
  void fail_flow(uint32_t slot, int err);
  int source_fd(const Connection& c, Dir d) const;
  int destination_fd(const Connection& c, Dir d) const;

  io_uring_sqe* submit(Op op, uint32_t slot, uint8_t aux = 0);
  Connection& conn(uint32_t slot) { return *conns_[slot]; }

  const Config& config_;
  Metrics& metrics_;
  RouteTable& routes_;
  ConnectionLimit& limit_;
  std::vector<UniqueFd> listeners_;
  std::vector<bool> listener_http_;  // by listener index: routed by Host, else by SNI
  std::vector<bool> accept_armed_;
  const std::atomic<bool>& stop_requested_;
  SockmapRelay* sockmap_;  // --relay sockmap: the loaded program and maps (shared by workers)
  Watchdog* watchdog_;
  unsigned index_;

  std::optional<Ring> ring_;
  std::optional<BufferRing> buffers_;
  std::optional<RouteTable::Reader> reader_;
  PipePool pipes_;
  TargetBalancer balancer_;

  std::vector<std::unique_ptr<Connection>> conns_;
  std::vector<DeadlineLink> links_;
  std::vector<uint32_t> free_slots_;
  DeadlineList hello_deadlines_{0, &links_};
  DeadlineList connect_deadlines_{1, &links_};
  DeadlineList idle_deadlines_{2, &links_};
  struct Starved {
    uint32_t slot;
    uint16_t generation;
    Dir dir;
  };
  std::deque<Starved> starved_;
  std::vector<std::unique_ptr<uint8_t[]>> hello_pool_;
  std::unique_ptr<uint8_t[]> hello_scratch_;

  uint32_t active_ = 0;
  int64_t now_ns_ = 0;
  bool draining_ = false;
  int64_t drain_deadline_ns_ = 0;
  __kernel_timespec tick_interval_{};
};

}  // namespace cloudlink::dataplane
