// The worker's event loop: accept, timers, completion dispatch, and closing connections.
#include "dataplane/worker.h"

#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <ctime>

#include "common/log.h"
#include "common/proxy_accept.h"
#include "dataplane/access_log.h"
#include "dataplane/clienthello.h"

namespace cloudlink::dataplane {

namespace {

constexpr unsigned kRingEntries = 4096;
constexpr uint16_t kBufferGroup = 1;
constexpr size_t kHelloBuffersKept = 64;
constexpr int64_t kTickNs = 100'000'000;  // timer granularity: deadlines fire within 100 ms

int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

int64_t to_ns(std::chrono::milliseconds ms) { return int64_t{ms.count()} * 1'000'000; }

struct TcpBytes {
  uint64_t received = 0;
  uint64_t sent = 0;
};

// tcpi_state values (the kernel's include/net/tcp_states.h; not in the uapi headers).
enum TcpState : uint8_t {
  kFinWait1 = 4,
  kFinWait2 = 5,
  kTimeWait = 6,
  kClose = 7,
  kCloseWait = 8,
  kLastAck = 9,
  kClosing = 11,
};

bool peer_fin_received(uint8_t state) {
  return state == kCloseWait || state == kLastAck || state == kClosing || state == kTimeWait;
}

bool own_fin_queued(uint8_t state) {
  return state == kFinWait1 || state == kFinWait2 || state == kClosing || state == kLastAck ||
         state == kTimeWait;
}

// Bytes from the kernel's own accounting, so the numbers are right whatever the relay mode
// (splice and, later, sockmap move bytes that user space never sees). The kernel counts in
// sequence space, where a FIN takes one number: it is taken back out. Bytes written but not yet
// acknowledged (SIOCOUTQ) still leave with a graceful close, so they count as sent. Whether a
// FIN went either way is known from what the relay saw and did, or else from the state (a
// socket whose FIN exchange finished is in CLOSE, which says nothing).
int unacked_bytes(int fd) {
  int n = 0;
  if (::ioctl(fd, SIOCOUTQ, &n) != 0 || n < 0) return 0;
  return n;
}

// A socket that finished its FIN exchange as the active closer leaves TIME_WAIT to a timewait
// socket at once and reads as CLOSE, like one that was reset. Without an error pending (a reset
// or a timeout sets one) and with the receive side shut, its peer's FIN did arrive.
bool closed_after_peer_fin(int fd, uint8_t state) {
  if (state != kClose) return false;
  pollfd p{fd, POLLRDHUP, 0};
  if (::poll(&p, 1, 0) != 1) return false;
  return (p.revents & POLLRDHUP) != 0 && (p.revents & POLLERR) == 0;
}

TcpBytes tcp_bytes(int fd, bool fin_seen, bool fin_sent, bool aborted) {
  if (fd < 0) return {};
  tcp_info info;
  int unacked = 0;
  // An ACK arriving between the two reads would move bytes from "unacked" to "acked" unseen:
  // read the queue before and after, and take a snapshot during which it did not change.
  for (int attempt = 0; attempt < 8; ++attempt) {
    const int before = unacked_bytes(fd);
    std::memset(&info, 0, sizeof info);
    socklen_t len = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return {};
    unacked = unacked_bytes(fd);
    if (unacked == before) break;
  }
  TcpBytes bytes;
  bytes.received = info.tcpi_bytes_received;
  const bool fin_received = fin_seen || peer_fin_received(info.tcpi_state) ||
                            (!aborted && closed_after_peer_fin(fd, info.tcpi_state));
  if (fin_received && bytes.received > 0) --bytes.received;
  bytes.sent = info.tcpi_bytes_acked + static_cast<uint64_t>(unacked);
  if ((fin_sent || own_fin_queued(info.tcpi_state)) && bytes.sent > 0) --bytes.sent;
  return bytes;
}

}  // namespace

Worker::Worker(const Config& config, Metrics& metrics, RouteTable& routes, ConnectionLimit& limit,
               TargetLoads& target_loads, std::vector<ListenerSocket> listeners,
               const std::atomic<bool>& stop_requested, SockmapRelay* sockmap, Watchdog* watchdog,
               unsigned index)
    : config_(config),
      metrics_(metrics),
      routes_(routes),
      limit_(limit),
      accept_armed_(listeners.size(), false),
      stop_requested_(stop_requested),
      sockmap_(sockmap),
      watchdog_(watchdog),
      index_(index),
      pipes_(static_cast<int>(config.buffer_size) * 4, 64),
      balancer_(target_loads) {
  tick_interval_.tv_sec = 0;
  tick_interval_.tv_nsec = kTickNs;
  for (ListenerSocket& l : listeners) {
    listeners_.push_back(std::move(l.fd));
    listener_http_.push_back(l.http);
  }
}

Worker::~Worker() = default;

Result<void> Worker::init() {
  auto ring = Ring::create(kRingEntries);
  if (!ring) return ring.error();
  ring_.emplace(std::move(ring).value());
  if (config_.relay == RelayMode::kCopy) {
    auto buffers = BufferRing::create(ring_->get(), kBufferGroup, config_.buffers_per_worker,
                                      config_.buffer_size);
    if (!buffers) return buffers.error();
    buffers_.emplace(std::move(buffers).value());
  }
  auto reader = routes_.make_reader();
  if (!reader) return reader.error();
  reader_.emplace(std::move(reader).value());
  hello_scratch_ = std::make_unique<uint8_t[]>(tls::kMaxClientHelloBytes);
  return ok();
}

io_uring_sqe* Worker::submit(Op op, uint32_t slot, uint8_t aux) {
  io_uring_sqe* sqe = ring_->sqe();
  uint16_t generation = 0;
  if (op != Op::kAccept && op != Op::kTick && op != Op::kCancel) {
    Connection& c = conn(slot);
    generation = c.generation;
    ++c.inflight;
  }
  io_uring_sqe_set_data64(sqe, encode_user_data(op, aux, generation, slot));
  return sqe;
}

void Worker::arm_accept(size_t listener) {
  io_uring_sqe* sqe = submit(Op::kAccept, static_cast<uint32_t>(listener));
  io_uring_prep_multishot_accept(sqe, listeners_[listener].get(), nullptr, nullptr, SOCK_CLOEXEC);
  accept_armed_[listener] = true;
}

void Worker::arm_tick() {
  io_uring_sqe* sqe = submit(Op::kTick, 0);
  io_uring_prep_timeout(sqe, &tick_interval_, 0, 0);
}

void Worker::run() {
  now_ns_ = monotonic_ns();
  for (size_t i = 0; i < listeners_.size(); ++i) arm_accept(i);
  arm_tick();
  io_uring* ring = ring_->get();
  while (!(draining_ && active_ == 0 && listeners_.empty())) {
    int rc = io_uring_submit_and_wait(ring, 1);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
      log_error("io_uring_submit_and_wait: %s", std::strerror(-rc));
      break;
    }
    now_ns_ = monotonic_ns();
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(ring, head, cqe) {
      dispatch(cqe);
      ++seen;
    }
    io_uring_cq_advance(ring, seen);
  }
}

void Worker::dispatch(const io_uring_cqe* cqe) {
  const UserData ud = decode_user_data(io_uring_cqe_get_data64(cqe));
  switch (ud.op) {
    case Op::kAccept:
      on_accept(ud.slot, cqe->res, cqe->flags);
      return;
    case Op::kTick:
      on_tick();
      return;
    case Op::kCancel:
      return;  // the cancelled operation reports on its own
    default:
      break;
  }
  Connection& c = conn(ud.slot);
  --c.inflight;
  if (c.state == ConnState::kClosing) {
    // A recv that completed with data after close began still holds a provided buffer.
    if (ud.op == Op::kCopyRecv && cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER) != 0) {
      buffers_->note_taken();
      buffers_->recycle(static_cast<uint16_t>(cqe->flags >> IORING_CQE_BUFFER_SHIFT));
    }
    if (c.inflight == 0) finish_close(ud.slot);
    return;
  }
  switch (ud.op) {
    case Op::kHelloRecv:
      return on_hello_recv(ud.slot, cqe->res);
    case Op::kAlertSend:
      return on_alert_sent(ud.slot, cqe->res);
    case Op::kConnect:
      return on_connect(ud.slot, cqe->res);
    case Op::kPreambleSend:
      return on_preamble_sent(ud.slot, cqe->res);
    case Op::kCopyRecv:
      return on_copy_recv(ud.slot, static_cast<Dir>(ud.aux), cqe->res, cqe->flags);
    case Op::kCopySend:
      return on_copy_send(ud.slot, static_cast<Dir>(ud.aux), cqe->res);
    case Op::kSplicePoll:
      return on_splice_poll(ud.slot, ud.aux, cqe->res);
    case Op::kSockmapPoll:
      return on_sockmap_poll(ud.slot, static_cast<Dir>(ud.aux), cqe->res);
    case Op::kSockmapRetry:
      return on_sockmap_retry(ud.slot, static_cast<Dir>(ud.aux));
    case Op::kSockmapLaneSend:
      return on_sockmap_lane_send(ud.slot, static_cast<Dir>(ud.aux), cqe->res);
    default:
      return;
  }
}

uint32_t Worker::allocate_slot() {
  if (!free_slots_.empty()) {
    uint32_t slot = free_slots_.back();
    free_slots_.pop_back();
    return slot;
  }
  conns_.push_back(std::make_unique<Connection>());
  links_.emplace_back();
  return static_cast<uint32_t>(conns_.size() - 1);
}

void Worker::on_accept(size_t listener, int res, unsigned flags) {
  if ((flags & IORING_CQE_F_MORE) == 0) {
    accept_armed_[listener] = false;
    if (draining_) {
      // The multishot accept is gone, so the ring holds no reference to the socket any more:
      // closing it now makes the kernel refuse new connections.
      listeners_[listener].reset();
      bool all_closed = true;
      for (bool armed : accept_armed_) all_closed = all_closed && !armed;
      if (all_closed) listeners_.clear();
    } else {
      arm_accept(listener);
    }
  }
  if (res < 0) {
    if (res != -ECANCELED && res != -EAGAIN) log_warn("accept: %s", std::strerror(-res));
    return;
  }
  metrics_.accepted().Increment();
  if (!limit_.try_acquire()) {
    log_rejected_accept(res, CloseResult::kOverLimit);
    return;
  }
  const uint32_t slot = allocate_slot();
  Connection& c = conn(slot);
  c.state = ConnState::kReadingHello;
  c.http = listener_http_[listener];
  c.client_fd = res;
  c.accepted_ns = now_ns_;
  sockaddr_storage sa;
  socklen_t len = sizeof sa;
  if (::getpeername(res, reinterpret_cast<sockaddr*>(&sa), &len) == 0) {
    c.client_addr = SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&sa), len);
  }
  len = sizeof sa;
  if (::getsockname(res, reinterpret_cast<sockaddr*>(&sa), &len) == 0) {
    c.local_addr = SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&sa), len);
  }
  c.proxy_expected = is_trusted_proxy(config_.trusted_proxies, c.client_addr);
  int one = 1;
  ::setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c.hello = take_hello_buffer();
  ++active_;
  metrics_.active().Increment();
  hello_deadlines_.push_back(slot, now_ns_ + to_ns(config_.hello_timeout));
  submit_hello_recv(slot);
}

void Worker::log_rejected_accept(int fd, CloseResult result) {
  sockaddr_storage sa;
  socklen_t len = sizeof sa;
  SocketAddress client;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&sa), &len) == 0) {
    client = SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&sa), len);
  }
  ::close(fd);
  metrics_.rejected(result).Increment();
  metrics_.closed(result).Increment();
  AccessLogEntry entry;
  entry.client = &client;
  entry.result = result;
  write_access_log(STDOUT_FILENO, entry);
}

void Worker::on_tick() {
  if (watchdog_ != nullptr) watchdog_->beat(index_, now_ns_);
  if (stop_requested_.load(std::memory_order_relaxed) && !draining_) begin_drain();
  expire_deadlines();
  if (sockmap_ != nullptr) {
    const SockmapCounts counts = sockmap_->take_counts();
    if (counts.redirect_failures > 0) {
      metrics_.sockmap_redirect_failures().Increment(static_cast<double>(counts.redirect_failures));
    }
    sockmap_watch_lanes();
    for (Dir d : {kClientToTarget, kTargetToClient}) {
      if (counts.backpressure[d] > 0) {
        metrics_.sockmap_backpressure(d).Increment(static_cast<double>(counts.backpressure[d]));
      }
    }
  }
  if (draining_ && now_ns_ >= drain_deadline_ns_) {
    for (uint32_t slot = 0; slot < conns_.size(); ++slot) {
      Connection& c = conn(slot);
      if (c.state != ConnState::kFree && c.state != ConnState::kClosing) {
        c.abort = true;
        close_connection(slot, CloseResult::kDrainTimeout);
      }
    }
  }
  arm_tick();
}

void Worker::begin_drain() {
  draining_ = true;
  drain_deadline_ns_ = now_ns_ + to_ns(config_.drain_timeout);
  for (size_t i = 0; i < listeners_.size(); ++i) {
    if (!accept_armed_[i]) continue;
    io_uring_sqe* sqe = submit(Op::kCancel, 0);
    io_uring_prep_cancel_fd(sqe, listeners_[i].get(), 0);
  }
}

void Worker::expire_deadlines() {
  while (!hello_deadlines_.empty() && hello_deadlines_.front_deadline() <= now_ns_) {
    const uint32_t slot = hello_deadlines_.front();
    hello_deadlines_.remove(slot);
    close_connection(slot, CloseResult::kHelloTimeout);
  }
  while (!connect_deadlines_.empty() && connect_deadlines_.front_deadline() <= now_ns_) {
    const uint32_t slot = connect_deadlines_.front();
    connect_deadlines_.remove(slot);
    // Cancelling the connect completes it with -ECANCELED; on_connect then tries the next target.
    io_uring_sqe* sqe = submit(Op::kCancel, slot);
    io_uring_prep_cancel_fd(sqe, conn(slot).target_fd, 0);
  }
  while (!idle_deadlines_.empty() && idle_deadlines_.front_deadline() <= now_ns_) {
    const uint32_t slot = idle_deadlines_.front();
    idle_deadlines_.remove(slot);
    Connection& c = conn(slot);
    if (c.in_sockmap) sockmap_refresh_activity(c);
    const int64_t idle_until = c.last_active_ns + to_ns(config_.idle_timeout);
    if (idle_until > now_ns_) {
      // Active since it was queued: requeue at the back with its real deadline. Activity only
      // stamps a time, so the hot path never touches the list.
      idle_deadlines_.push_back(slot, idle_until);
    } else {
      close_connection(slot, CloseResult::kIdleTimeout);
    }
  }
}

void Worker::close_connection(uint32_t slot, CloseResult result) {
  Connection& c = conn(slot);
  if (c.state == ConnState::kClosing || c.state == ConnState::kFree) return;
  c.result = result;
  c.state = ConnState::kClosing;
  hello_deadlines_.remove(slot);
  connect_deadlines_.remove(slot);
  idle_deadlines_.remove(slot);
  if (c.inflight == 0) {
    finish_close(slot);
    return;
  }
  for (int fd : {c.client_fd, c.target_fd}) {
    if (fd < 0) continue;
    io_uring_sqe* sqe = submit(Op::kCancel, slot);
    io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
  }
}

void Worker::finish_close(uint32_t slot) {
  Connection& c = conn(slot);
  const TcpBytes client_bytes =
      tcp_bytes(c.client_fd, c.dirs[kClientToTarget].eof, c.dirs[kTargetToClient].shut, c.abort);
  metrics_.closed(c.result).Increment();
  if (is_rejection(c.result)) metrics_.rejected(c.result).Increment();
  metrics_.bytes_client_to_target().Increment(static_cast<double>(client_bytes.received));
  metrics_.bytes_target_to_client().Increment(static_cast<double>(client_bytes.sent));
  metrics_.active().Decrement();
  if (c.target_counted) balancer_.closed(c.target);

  AccessLogEntry entry;
  entry.client = &c.client_addr;
  entry.sni = c.sni_view();
  entry.target = &c.target;
  entry.result = c.result;
  entry.bytes_from_client = client_bytes.received;
  entry.bytes_to_client = client_bytes.sent;
  entry.duration_s = static_cast<double>(now_ns_ - c.accepted_ns) / 1e9;
  write_access_log(STDOUT_FILENO, entry);

  sockmap_release(c);
  for (int fd : {c.client_fd, c.target_fd}) {
    if (fd < 0) continue;
    if (c.abort) {
      // Linger 0 turns close into a reset, so a reset on one side reaches the other.
      linger lg{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    ::close(fd);
  }
  if (c.hello) return_hello_buffer(std::move(c.hello));
  copy_release_buffers(c);
  splice_release_pipes(c);

  const uint16_t next_generation = static_cast<uint16_t>(c.generation + 1);
  c = Connection();
  c.generation = next_generation;
  free_slots_.push_back(slot);
  --active_;
  limit_.release();
  if (buffers_) wake_starved();
}

std::unique_ptr<uint8_t[]> Worker::take_hello_buffer() {
  if (!hello_pool_.empty()) {
    auto b = std::move(hello_pool_.back());
    hello_pool_.pop_back();
    return b;
  }
  return std::make_unique<uint8_t[]>(kHelloHeadroom + tls::kMaxClientHelloBytes);
}

void Worker::return_hello_buffer(std::unique_ptr<uint8_t[]> buffer) {
  if (hello_pool_.size() < kHelloBuffersKept) hello_pool_.push_back(std::move(buffer));
}

int Worker::source_fd(const Connection& c, Dir d) const {
  return d == kClientToTarget ? c.client_fd : c.target_fd;
}

int Worker::destination_fd(const Connection& c, Dir d) const {
  return d == kClientToTarget ? c.target_fd : c.client_fd;
}

}  // namespace cloudlink::dataplane
