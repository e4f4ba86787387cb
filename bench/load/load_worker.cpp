#include "bench/load/load_worker.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bench/load/bench_request.h"
#include "bench/load/client_hello_builder.h"
#include "common/unique_fd.h"

namespace cloudlink::bench {
namespace {

constexpr size_t kChunk = 256 * 1024;
constexpr auto kScanInterval = std::chrono::milliseconds(10);
// A failed connection is retried after this pause, so a refusing target is not hammered.
constexpr auto kRetryPause = std::chrono::milliseconds(10);

enum class Phase { kIdle, kConnecting, kPreamble, kRunning, kFinished };

struct Slot {
  UniqueFd fd;
  Phase phase = Phase::kIdle;
  uint32_t interest = 0;
  std::vector<uint8_t> preamble;  // ClientHello + bench request (+ churn request)
  size_t preamble_sent = 0;
  uint64_t sent = 0;      // bulk: bytes written; ping-pong: bytes of this message written
  uint64_t received = 0;  // bulk: bytes read; ping-pong/churn: bytes of this reply read
  Clock::time_point started;
  Clock::time_point deadline;  // for kIdle: when to connect; otherwise when to give up
  bool up_done = false;
  // Bumped for every new socket: an event still queued for the previous socket is dropped.
  uint32_t generation = 0;
};

class LoadWorker {
 public:
  LoadWorker(const LoadOptions& options, const LoadWindow& window, uint32_t connections,
             uint64_t seed)
      : options_(options), window_(window), slots_(connections), seed_(seed) {
    hello_ = build_client_hello(options.server_name, seed);
    chunk_.assign(kChunk, 'x');
    read_buffer_.resize(kChunk);
    timeout_ = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(options.timeout_seconds));
  }

  WorkerResult run();

 private:
  BenchRequest bench_request() const;
  void build_preamble(Slot& slot);
  void start_connect(Slot& slot);
  void finish_connect(Slot& slot);
  void send_preamble(Slot& slot);
  void start_running(Slot& slot);
  void on_event(Slot& slot, uint32_t events);
  void on_bulk(Slot& slot, uint32_t events);
  void on_pingpong(Slot& slot, uint32_t events);
  void on_churn(Slot& slot, uint32_t events);
  void start_round_trip(Slot& slot);
  void complete(Slot& slot, Clock::time_point now);
  // Reads what is there; returns bytes read, 0 on EAGAIN, -1 after failing the slot.
  ssize_t read_some(Slot& slot, bool eof_is_error);
  void fail(Slot& slot, const char* what, int error);
  void close_slot(Slot& slot);
  void set_interest(Slot& slot, uint32_t interest);
  uint64_t event_tag(const Slot& slot) const {
    return static_cast<uint64_t>(&slot - slots_.data()) | (uint64_t{slot.generation} << 32);
  }
  void scan_deadlines(Clock::time_point now);
  bool all_finished() const;
  void take_snapshot(Clock::time_point now);

  const LoadOptions& options_;
  const LoadWindow& window_;
  std::vector<Slot> slots_;
  uint64_t seed_;
  std::vector<uint8_t> hello_;
  std::vector<uint8_t> chunk_;
  std::vector<uint8_t> read_buffer_;
  Clock::duration timeout_{};
  UniqueFd epoll_;
  bool measuring_ = false;
  Clock::time_point snapshot_time_;
  uint64_t snapshot_up_ = 0;
  uint64_t snapshot_down_ = 0;
  WorkerResult result_;
};

BenchRequest LoadWorker::bench_request() const {
  BenchRequest request;
  switch (options_.mode) {
    case LoadMode::kBulk:
      request.mode = options_.direction == Direction::kUp     ? ServeMode::kSink
                     : options_.direction == Direction::kDown ? ServeMode::kSource
                                                              : ServeMode::kSinkSource;
      break;
    case LoadMode::kPingPong:
      request.mode = ServeMode::kEcho;
      break;
    case LoadMode::kChurn:
      if (options_.client_closes) {
        request.mode = ServeMode::kEcho;
        break;
      }
      request.mode = ServeMode::kRequestReply;
      request.request_bytes = options_.size;
      request.reply_bytes = options_.size;
      break;
  }
  return request;
}

void LoadWorker::build_preamble(Slot& slot) {
  slot.preamble.assign(hello_.begin(), hello_.end());
  // Each connection gets its own ClientHello random, as a real client's would.
  uint64_t x = seed_ += 0x9e3779b97f4a7c15ULL;
  for (size_t i = 0; i < 32; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    slot.preamble[kClientHelloRandomOffset + i] = static_cast<uint8_t>(x);
  }
  uint8_t request[kBenchRequestLength];
  encode_bench_request(bench_request(), std::span<uint8_t, kBenchRequestLength>(request));
  slot.preamble.insert(slot.preamble.end(), request, request + kBenchRequestLength);
  if (options_.mode == LoadMode::kChurn) {
    slot.preamble.insert(slot.preamble.end(), chunk_.begin(), chunk_.begin() + options_.size);
  }
}

void LoadWorker::start_connect(Slot& slot) {
  slot.started = Clock::now();
  slot.deadline = slot.started + timeout_;
  slot.sent = slot.received = 0;
  slot.up_done = false;
  slot.preamble_sent = 0;
  build_preamble(slot);
  int fd = ::socket(options_.target.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(slot, "socket", errno);
  slot.fd.reset(fd);
  ++slot.generation;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  slot.phase = Phase::kConnecting;
  slot.interest = EPOLLOUT;
  epoll_event ev{};
  ev.events = slot.interest;
  ev.data.u64 = event_tag(slot);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return fail(slot, "epoll_ctl", errno);
  if (::connect(fd, options_.target.sockaddr_ptr(), options_.target.length()) == 0) {
    return finish_connect(slot);
  }
  if (errno != EINPROGRESS) return fail(slot, "connect", errno);
}

void LoadWorker::finish_connect(Slot& slot) {
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(slot.fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
  if (error != 0) return fail(slot, "connect", error);
  slot.phase = Phase::kPreamble;
  send_preamble(slot);
}

void LoadWorker::send_preamble(Slot& slot) {
  while (slot.preamble_sent < slot.preamble.size()) {
    ssize_t n = ::send(slot.fd.get(), slot.preamble.data() + slot.preamble_sent,
                       slot.preamble.size() - slot.preamble_sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN) return set_interest(slot, EPOLLOUT);
      return fail(slot, "send hello", errno);
    }
    slot.preamble_sent += static_cast<size_t>(n);
  }
  slot.phase = Phase::kRunning;
  start_running(slot);
}

void LoadWorker::start_running(Slot& slot) {
  switch (options_.mode) {
    case LoadMode::kBulk:
      // EPOLLIN even when only sending: it is how a peer's close or reset shows up.
      set_interest(slot, options_.direction == Direction::kDown ? EPOLLIN : EPOLLIN | EPOLLOUT);
      break;
    case LoadMode::kPingPong:
      start_round_trip(slot);
      break;
    case LoadMode::kChurn:
      set_interest(slot, EPOLLIN);
      break;
  }
}

void LoadWorker::on_event(Slot& slot, uint32_t events) {
  switch (slot.phase) {
    case Phase::kConnecting:
      return finish_connect(slot);
    case Phase::kPreamble:
      return send_preamble(slot);
    case Phase::kRunning:
      if (options_.mode == LoadMode::kBulk) return on_bulk(slot, events);
      if (options_.mode == LoadMode::kPingPong) return on_pingpong(slot, events);
      return on_churn(slot, events);
    case Phase::kIdle:
    case Phase::kFinished:
      return;
  }
}

ssize_t LoadWorker::read_some(Slot& slot, bool eof_is_error) {
  ssize_t n = ::recv(slot.fd.get(), read_buffer_.data(), read_buffer_.size(), 0);
  if (n > 0) return n;
  if (n < 0 && errno == EAGAIN) return 0;
  if (n == 0 && !eof_is_error) return -2;
  fail(slot, n == 0 ? "closed by peer" : "recv", n == 0 ? 0 : errno);
  return -1;
}

void LoadWorker::on_bulk(Slot& slot, uint32_t events) {
  bool want_down = options_.direction != Direction::kUp;
  bool want_up = options_.direction != Direction::kDown;
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
    ssize_t n = read_some(slot, true);
    if (n < 0) return;
    slot.received += static_cast<uint64_t>(n);
    result_.total_bytes_down += static_cast<uint64_t>(n);
  }
  if (want_up && !slot.up_done && (events & EPOLLOUT)) {
    size_t len = kChunk;
    if (options_.bytes != 0) len = std::min<uint64_t>(len, options_.bytes - slot.sent);
    ssize_t n = ::send(slot.fd.get(), chunk_.data(), len, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN) return fail(slot, "send", errno);
    if (n > 0) {
      slot.sent += static_cast<uint64_t>(n);
      result_.total_bytes_up += static_cast<uint64_t>(n);
    }
    if (options_.bytes != 0 && slot.sent >= options_.bytes) {
      slot.up_done = true;
      set_interest(slot, EPOLLIN);
    }
  }
  bool down_done = !want_down || (options_.bytes != 0 && slot.received >= options_.bytes);
  if ((slot.up_done || !want_up) && down_done) {
    close_slot(slot);
    slot.phase = Phase::kFinished;
  }
}

void LoadWorker::start_round_trip(Slot& slot) {
  slot.started = Clock::now();
  slot.deadline = slot.started + timeout_;
  slot.sent = slot.received = 0;
  on_pingpong(slot, EPOLLOUT);
}

void LoadWorker::on_pingpong(Slot& slot, uint32_t events) {
  if (slot.sent < options_.size && (events & EPOLLOUT)) {
    ssize_t n = ::send(slot.fd.get(), chunk_.data(), options_.size - slot.sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN) return fail(slot, "send", errno);
    if (n > 0) slot.sent += static_cast<uint64_t>(n);
    result_.total_bytes_up += n > 0 ? static_cast<uint64_t>(n) : 0;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
    ssize_t n = read_some(slot, true);
    if (n < 0) return;
    slot.received += static_cast<uint64_t>(n);
    result_.total_bytes_down += static_cast<uint64_t>(n);
  }
  if (slot.received >= options_.size) {
    complete(slot, Clock::now());
    return start_round_trip(slot);
  }
  set_interest(slot, slot.sent < options_.size ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

void LoadWorker::on_churn(Slot& slot, uint32_t events) {
  if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
  for (;;) {
    ssize_t n = read_some(slot, options_.client_closes);
    if (n == -1) return;
    if (n == 0) return;  // EAGAIN: the rest of the reply or the FIN is still on its way
    if (n == -2) break;  // EOF: the backend closes after its reply
    slot.received += static_cast<uint64_t>(n);
    result_.total_bytes_down += static_cast<uint64_t>(n);
    if (options_.client_closes && slot.received >= options_.size) break;
  }
  if (slot.received < options_.size) return fail(slot, "reply cut short", 0);
  complete(slot, Clock::now());
  close_slot(slot);
  start_connect(slot);
}

void LoadWorker::complete(Slot& slot, Clock::time_point now) {
  if (!measuring_) return;
  ++result_.completed;
  result_.latencies_ns.push_back(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(now - slot.started).count()));
}

void LoadWorker::fail(Slot& slot, const char* what, int error) {
  ++result_.errors;
  if (result_.first_error.empty()) {
    result_.first_error = error != 0 ? std::string(what) + ": " + std::strerror(error) : what;
  }
  close_slot(slot);
  slot.phase = Phase::kIdle;
  slot.deadline = Clock::now() + kRetryPause;
}

void LoadWorker::close_slot(Slot& slot) {
  slot.fd.reset();  // close() also removes it from the epoll set
  slot.interest = 0;
}

void LoadWorker::set_interest(Slot& slot, uint32_t interest) {
  if (slot.interest == interest) return;
  slot.interest = interest;
  epoll_event ev{};
  ev.events = interest;
  ev.data.u64 = event_tag(slot);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, slot.fd.get(), &ev) != 0) {
    fail(slot, "epoll_ctl", errno);
  }
}

void LoadWorker::scan_deadlines(Clock::time_point now) {
  for (Slot& slot : slots_) {
    if (now < slot.deadline) continue;
    bool bounded = slot.phase == Phase::kConnecting || slot.phase == Phase::kPreamble ||
                   (slot.phase == Phase::kRunning && options_.mode != LoadMode::kBulk);
    if (slot.phase == Phase::kIdle) {
      start_connect(slot);
    } else if (bounded) {
      fail(slot, "timed out", ETIMEDOUT);
    }
  }
}

bool LoadWorker::all_finished() const {
  return std::all_of(slots_.begin(), slots_.end(),
                     [](const Slot& s) { return s.phase == Phase::kFinished; });
}

void LoadWorker::take_snapshot(Clock::time_point now) {
  measuring_ = true;
  snapshot_time_ = now;
  snapshot_up_ = result_.total_bytes_up;
  snapshot_down_ = result_.total_bytes_down;
}

WorkerResult LoadWorker::run() {
  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) {
    result_.errors = 1;
    result_.first_error = std::string("epoll_create1: ") + std::strerror(errno);
    return std::move(result_);
  }
  for (Slot& slot : slots_) start_connect(slot);
  std::vector<epoll_event> events(std::max<size_t>(64, slots_.size()));
  Clock::time_point next_scan = Clock::now() + kScanInterval;
  Clock::time_point now = Clock::now();
  for (;;) {
    now = Clock::now();
    if (!measuring_ && now >= window_.measure_from) take_snapshot(now);
    if (now >= window_.measure_until || (options_.bytes != 0 && all_finished())) break;
    if (now >= next_scan) {
      scan_deadlines(now);
      next_scan = now + kScanInterval;
    }
    Clock::time_point wake = std::min(next_scan, window_.measure_until);
    if (!measuring_) wake = std::min(wake, window_.measure_from);
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count() + 1;
    int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()),
                         static_cast<int>(std::clamp<int64_t>(wait, 0, 100)));
    for (int i = 0; i < n; ++i) {
      Slot& slot = slots_[events[i].data.u64 & 0xffffffffu];
      if (slot.generation == events[i].data.u64 >> 32) on_event(slot, events[i].events);
    }
  }
  if (!measuring_) take_snapshot(now);
  result_.measured_seconds = std::chrono::duration<double>(now - snapshot_time_).count();
  result_.window_bytes_up = result_.total_bytes_up - snapshot_up_;
  result_.window_bytes_down = result_.total_bytes_down - snapshot_down_;
  // An abortive close (RST) at the end, so no proxy keeps relaying our leftovers into the
  // next run.
  linger abort{1, 0};
  for (Slot& slot : slots_) {
    if (slot.fd) ::setsockopt(slot.fd.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    close_slot(slot);
  }
  return std::move(result_);
}

}  // namespace

WorkerResult run_load_worker(const LoadOptions& options, const LoadWindow& window,
                             uint32_t connections, uint64_t seed) {
  LoadWorker worker(options, window, connections, seed);
  return worker.run();
}

}  // namespace cloudlink::bench
