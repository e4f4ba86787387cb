#include "control/http/http_loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "common/proxy_accept.h"
#include "control/http/response_wire.h"

namespace cloudlink::control::http {

namespace {

constexpr uint64_t kListenerKey = UINT64_MAX;
constexpr uint64_t kAnswersKey = UINT64_MAX - 1;
constexpr uint64_t kWakeKey = UINT64_MAX - 2;
// Connections accepted per listener event: others get their turn between batches.
constexpr int kAcceptBatch = 64;
// Out of descriptors: stop accepting this long rather than spin on EMFILE.
constexpr std::chrono::milliseconds kAcceptPause{100};

uint64_t key_of(uint32_t slot, uint32_t generation) { return (uint64_t{generation} << 32) | slot; }

}  // namespace

HttpLoop::HttpLoop(LoopOptions options, const Site& site, TlsContext* tls,
                   const HttpMetrics* metrics)
    : options_(std::move(options)),
      site_(site),
      tls_(tls),
      metrics_(metrics),
      limits_(options_.max_connections, options_.max_connections_per_source),
      env_{options_, site_, tls_, limits_},
      pool_(options_.threads, options_.max_queued_requests,
            [this](Job& job) {
              Answer answer;
              answer.key = job.key;
              const Response response = site_.handle(job.request, &answer.route);
              answer.status = response.status;
              answer.user = response.log_user;
              answer.close = !job.keep_alive;
              answer.bytes = serialize_response(response, answer.close, job.head_only);
              return answer;
            }),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

HttpLoop::~HttpLoop() {
  for (uint32_t slot = 0; slot < slots_.size(); ++slot) {
    if (slots_[slot].connection) destroy(slot);
  }
  pool_.stop();
}

int64_t HttpLoop::now_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

Result<uint16_t> HttpLoop::bind(const std::string& host, uint16_t port) {
  if (!epoll_ || !wake_) return errno_error("http: epoll/eventfd");
  sockaddr_storage address{};
  socklen_t length = 0;
  int family = AF_INET;
  if (auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
      ::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    length = sizeof *v4;
  } else if (auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
             ::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    length = sizeof *v6;
  } else {
    return invalid("bind " + host + ": not an IP address");
  }
  const std::string where = "bind " + host + ":" + std::to_string(port);
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return errno_error(where);
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
    return errno_error(where);
  }
  if (::listen(fd.get(), SOMAXCONN) != 0) return errno_error(where);
  socklen_t bound_length = sizeof address;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &bound_length) != 0) {
    return errno_error(where);
  }
  const uint16_t bound =
      ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&address)->sin_port
                              : reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  listener_ = std::move(fd);
  return bound;
}

void HttpLoop::stop() {
  stop_requested_.store(true);
  const uint64_t one = 1;
  while (::write(wake_.get(), &one, sizeof one) < 0 && errno == EINTR) {
  }
}

Result<void> HttpLoop::run() {
  if (!listener_) return invalid("http: run() before bind()");
  // OpenSSL writes to the socket with write(), not send(MSG_NOSIGNAL): a peer gone mid-answer
  // must be an EPIPE for that connection, not the end of the process.
  ::signal(SIGPIPE, SIG_IGN);
  auto add = [this](int fd, uint32_t events, uint64_t key) {
    epoll_event event{};
    event.events = events;
    event.data.u64 = key;
    return ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) == 0;
  };
  if (!add(listener_.get(), EPOLLIN, kListenerKey) || !add(wake_.get(), EPOLLIN, kWakeKey) ||
      !add(pool_.notify_fd(), EPOLLIN, kAnswersKey)) {
    return errno_error("http: epoll_ctl");
  }
  pool_.start();
  std::vector<epoll_event> events(256);
  for (;;) {
    if (stop_requested_.load() && !stopping_) begin_stop();
    if (stopping_ && (drained() || Clock::now() >= drain_deadline_)) break;
    const int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()),
                               epoll_timeout_ms());
    if (n < 0 && errno != EINTR) return errno_error("http: epoll_wait");
    for (int i = 0; i < n; ++i) {
      const uint64_t key = events[i].data.u64;
      if (key == kListenerKey) {
        accept_ready();
      } else if (key == kAnswersKey) {
        on_answers();
      } else if (key == kWakeKey) {
        uint64_t count = 0;
        while (::read(wake_.get(), &count, sizeof count) < 0 && errno == EINTR) {
        }
      } else {
        on_event(key);
      }
    }
    run_ready();
    expire_deadlines();
    beat();
    if (accept_paused_ && Clock::now() >= accept_resume_) resume_accept();
  }
  for (uint32_t slot = 0; slot < slots_.size(); ++slot) {
    if (slots_[slot].connection) destroy(slot);
  }
  pool_.stop();
  return ok();
}

int HttpLoop::epoll_timeout_ms() const {
  if (!ready_.empty()) return 0;
  int64_t earliest = INT64_MAX;
  for (const DeadlineList* list :
       {&request_deadlines_, &write_deadlines_, &idle_deadlines_, &linger_deadlines_}) {
    if (!list->empty()) earliest = std::min(earliest, list->front_deadline());
  }
  auto at_ns = [](Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  };
  if (accept_paused_) earliest = std::min(earliest, at_ns(accept_resume_));
  if (stopping_) earliest = std::min(earliest, at_ns(drain_deadline_));
  if (options_.heartbeat && options_.heartbeat_period.count() > 0) {
    earliest = std::min(earliest, at_ns(next_heartbeat_));
  }
  if (earliest == INT64_MAX) return -1;
  const int64_t left = earliest - now_ns();
  if (left <= 0) return 0;
  // Rounded up, so a wake-up is never early and never spins.
  return static_cast<int>(std::min<int64_t>((left + 999'999) / 1'000'000, 60'000));
}

void HttpLoop::beat() {
  if (!options_.heartbeat || options_.heartbeat_period.count() <= 0) return;
  const Clock::time_point now = Clock::now();
  if (now < next_heartbeat_) return;
  options_.heartbeat();
  next_heartbeat_ = now + options_.heartbeat_period;
}

void HttpLoop::accept_ready() {
  for (int i = 0; i < kAcceptBatch && !stopping_; ++i) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    const int fd = ::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&address), &length,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        pause_accept();
      } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        log_warn("http: accept: %s", std::strerror(errno));
      }
      return;
    }
    UniqueFd socket(fd);
    const SocketAddress peer =
        SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&address), length);
    if (!limits_.try_open()) {
      refuse_now(std::move(socket), "max_connections");
      continue;
    }
    const bool trusted = is_trusted_proxy(options_.trusted_proxies, peer);
    ConnectionLimits::SourceTicket ticket;
    if (!trusted) {
      ticket = limits_.try_source(peer);
      if (!ticket) {
        limits_.close_one();
        refuse_now(std::move(socket), "per_source");
        continue;
      }
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const uint32_t slot = new_slot();
    Slot& s = slots_[slot];
    epoll_event event{};
    event.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    event.data.u64 = key_of(slot, s.generation);
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
      log_error("http: epoll_ctl: %s", std::strerror(errno));
      limits_.close_one();
      free_slots_.push_back(slot);
      continue;
    }
    s.connection =
        std::make_unique<Connection>(env_, std::move(socket), peer, trusted, std::move(ticket));
    if (metrics_ != nullptr) metrics_->connection_opened();
    settle(slot);
  }
}

void HttpLoop::refuse_now(UniqueFd fd, const char* reason) {
  if (tls_ == nullptr) {
    const std::string& busy = refused_connection_response();
    ::send(fd.get(), busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  if (metrics_ != nullptr) metrics_->connection_refused(reason);
}

void HttpLoop::pause_accept() {
  if (metrics_ != nullptr) metrics_->connection_refused("fd_limit");
  const auto now = Clock::now();
  if (last_fd_log_ == Clock::time_point{} || now - last_fd_log_ > std::chrono::minutes(1)) {
    log_warn("http: accept: %s; not accepting for %lld ms (open connections: %u)",
             std::strerror(errno), static_cast<long long>(kAcceptPause.count()), limits_.open());
    last_fd_log_ = now;
  }
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, listener_.get(), nullptr);
  accept_paused_ = true;
  accept_resume_ = now + kAcceptPause;
}

void HttpLoop::resume_accept() {
  accept_paused_ = false;
  if (stopping_ || !listener_) return;
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kListenerKey;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener_.get(), &event);
}

uint32_t HttpLoop::new_slot() {
  if (!free_slots_.empty()) {
    const uint32_t slot = free_slots_.back();
    free_slots_.pop_back();
    return slot;
  }
  slots_.emplace_back();
  links_.emplace_back();
  return static_cast<uint32_t>(slots_.size() - 1);
}

HttpLoop::Slot* HttpLoop::slot_for(uint64_t key) {
  const auto slot = static_cast<uint32_t>(key);
  const auto generation = static_cast<uint32_t>(key >> 32);
  if (slot >= slots_.size()) return nullptr;
  Slot& s = slots_[slot];
  if (!s.connection || s.generation != generation) return nullptr;  // closed since
  return &s;
}

void HttpLoop::on_event(uint64_t key) {
  Slot* s = slot_for(key);
  if (s == nullptr) return;
  s->connection->advance();
  settle(static_cast<uint32_t>(key));
}

void HttpLoop::on_answers() {
  for (Answer& answer : pool_.take_answers()) {
    Slot* s = slot_for(answer.key);
    if (s == nullptr) continue;
    s->in_pool = false;
    s->connection->deliver(std::move(answer));
    s->connection->advance();
    settle(static_cast<uint32_t>(answer.key));
  }
}

void HttpLoop::run_ready() {
  std::vector<uint64_t> turn;
  turn.swap(ready_);
  for (uint64_t key : turn) {
    Slot* s = slot_for(key);
    if (s == nullptr) continue;
    s->queued = false;
    s->connection->advance();
    settle(static_cast<uint32_t>(key));
  }
}

void HttpLoop::expire_deadlines() {
  const int64_t now = now_ns();
  for (DeadlineList* list :
       {&request_deadlines_, &write_deadlines_, &idle_deadlines_, &linger_deadlines_}) {
    while (!list->empty() && list->front_deadline() <= now) {
      const uint32_t slot = list->front();
      list->remove(slot);
      slots_[slot].connection->on_deadline();
      settle(slot);
    }
  }
}

DeadlineList* HttpLoop::list_for(Connection::Timer timer) {
  switch (timer) {
    case Connection::Timer::kRequest:
      return &request_deadlines_;
    case Connection::Timer::kWrite:
      return &write_deadlines_;
    case Connection::Timer::kIdle:
      return &idle_deadlines_;
    case Connection::Timer::kLinger:
      return &linger_deadlines_;
    case Connection::Timer::kNone:
      return nullptr;
  }
  return nullptr;
}

std::chrono::nanoseconds HttpLoop::duration_of(Connection::Timer timer) const {
  switch (timer) {
    case Connection::Timer::kRequest:
      return options_.request_timeout;
    case Connection::Timer::kWrite:
      return options_.write_timeout;
    case Connection::Timer::kIdle:
      return options_.keep_alive_timeout;
    case Connection::Timer::kLinger:
      return Connection::kLingerTime;
    case Connection::Timer::kNone:
      return {};
  }
  return {};
}

Answer HttpLoop::busy_answer(const Job& job) const {
  Answer answer;
  answer.key = job.key;
  Response busy = Response::error(503, "unavailable", "the server is busy; try again");
  busy.headers.emplace_back("Retry-After", "1");
  answer.status = 503;
  answer.close = !job.keep_alive;
  answer.route = site_.route_label(job.request.method, job.request.path);
  answer.bytes = serialize_response(busy, answer.close, job.head_only);
  return answer;
}

void HttpLoop::settle(uint32_t slot) {
  Slot& s = slots_[slot];
  Connection& c = *s.connection;
  for (;;) {
    const auto phase = c.phase();
    if (phase == Connection::Phase::kDone) {
      destroy(slot);
      return;
    }
    // Stopping: only answers being made or written are waited for.
    if (stopping_ && phase != Connection::Phase::kHandling &&
        phase != Connection::Phase::kWriting) {
      destroy(slot);
      return;
    }
    if (phase != Connection::Phase::kHandling || s.in_pool) break;
    Job job = c.take_request(key_of(slot, s.generation));
    if (pool_.submit(job)) {
      s.in_pool = true;
      break;
    }
    c.deliver(busy_answer(job));
    c.advance();
  }
  if (c.timer_epoch() != s.armed_epoch) {
    s.armed_epoch = c.timer_epoch();
    if (links_[slot].list >= 0) {
      for (DeadlineList* list :
           {&request_deadlines_, &write_deadlines_, &idle_deadlines_, &linger_deadlines_}) {
        list->remove(slot);
      }
    }
    if (DeadlineList* list = list_for(c.timer())) {
      list->push_back(slot, now_ns() + duration_of(c.timer()).count());
    }
  }
  if (c.again() && !s.queued) {
    s.queued = true;
    ready_.push_back(key_of(slot, s.generation));
  }
}

void HttpLoop::destroy(uint32_t slot) {
  Slot& s = slots_[slot];
  for (DeadlineList* list :
       {&request_deadlines_, &write_deadlines_, &idle_deadlines_, &linger_deadlines_}) {
    list->remove(slot);
  }
  if (metrics_ != nullptr) {
    if (const char* reason = s.connection->refused_reason()) metrics_->connection_refused(reason);
    metrics_->connection_closed();
  }
  // Closing the descriptor takes it out of the epoll set.
  s.connection.reset();
  limits_.close_one();
  // A handler still working on its request answers into the void: the generation moved on.
  ++s.generation;
  s.armed_epoch = 0;
  s.in_pool = false;
  s.queued = false;
  free_slots_.push_back(slot);
}

void HttpLoop::begin_stop() {
  stopping_ = true;
  drain_deadline_ = Clock::now() + options_.write_timeout;
  if (listener_) {
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, listener_.get(), nullptr);
    listener_.reset();
  }
  for (uint32_t slot = 0; slot < slots_.size(); ++slot) {
    if (slots_[slot].connection) settle(slot);
  }
}

bool HttpLoop::drained() const {
  return std::none_of(slots_.begin(), slots_.end(),
                      [](const Slot& s) { return s.connection != nullptr; });
}

}  // namespace cloudlink::control::http
