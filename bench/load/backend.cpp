// cloudlink-bench-backend: the server behind the proxies under test. Each connection may open
// with a PROXY v2 header, then carries one TLS record (the load generator's ClientHello, skipped
// by its length), then a 16-byte bench request naming what to serve: sink, source, both, echo,
// or request-reply-close. One epoll loop per thread, each on its own SO_REUSEPORT listener.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "bench/load/bench_request.h"
#include "common/log.h"
#include "common/proxy_v2.h"
#include "common/socket_address.h"
#include "common/unique_fd.h"

namespace {

using cloudlink::UniqueFd;
using namespace cloudlink::bench;

constexpr size_t kChunk = 256 * 1024;
// PROXY v2 at its largest, one TLS record at its largest, and the bench request.
constexpr size_t kMaxHead = 16 + 65535 + 5 + 16384 + 256 + kBenchRequestLength;
constexpr uint8_t kProxyV2Signature[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                           0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

struct Conn {
  UniqueFd fd;
  bool serving = false;
  std::vector<uint8_t> head;  // bytes received before the bench request ended
  BenchRequest request;
  std::vector<uint8_t> pending;  // echo: bytes read but not yet written back
  size_t pending_offset = 0;
  uint64_t request_seen = 0;
  uint64_t reply_left = 0;
  bool replying = false;
  uint32_t interest = 0;
};

enum class HeadStatus { kNeedMore, kDone, kBad };

// Finds where the bench request ends in head; `end` receives the offset just past it.
HeadStatus parse_head(Conn& c, size_t& end) {
  std::span<const uint8_t> head(c.head);
  size_t at = 0;
  size_t sig = std::min(head.size(), sizeof kProxyV2Signature);
  if (std::memcmp(head.data(), kProxyV2Signature, sig) == 0) {
    if (sig < sizeof kProxyV2Signature) return HeadStatus::kNeedMore;
    cloudlink::ProxyV2Header proxy;
    switch (cloudlink::decode_proxy_v2(head, proxy, nullptr)) {
      case cloudlink::ProxyParseStatus::kNeedMore:
        return HeadStatus::kNeedMore;
      case cloudlink::ProxyParseStatus::kInvalid:
        return HeadStatus::kBad;
      case cloudlink::ProxyParseStatus::kComplete:
        at = proxy.length;
        break;
    }
  }
  if (head.size() < at + 5) return HeadStatus::kNeedMore;
  if (head[at] != 22) return HeadStatus::kBad;
  at += 5 + ((size_t{head[at + 3]} << 8) | head[at + 4]);
  if (head.size() < at + kBenchRequestLength) return HeadStatus::kNeedMore;
  auto request = decode_bench_request(
      std::span<const uint8_t, kBenchRequestLength>(head.data() + at, kBenchRequestLength));
  if (!request) return HeadStatus::kBad;
  c.request = *request;
  end = at + kBenchRequestLength;
  return HeadStatus::kDone;
}

class BackendWorker {
 public:
  BackendWorker(UniqueFd listener, std::chrono::steady_clock::time_point stop_at)
      : listener_(std::move(listener)), stop_at_(stop_at) {
    chunk_.assign(kChunk, 'y');
    buffer_.resize(kChunk);
  }
  void run();

 private:
  void accept_all();
  void on_event(int fd, uint32_t events);
  void on_head(Conn& c);
  void start_serving(Conn& c, std::span<const uint8_t> early);
  void on_serving(Conn& c, uint32_t events);
  void on_echo(Conn& c, uint32_t events);
  void on_request_reply(Conn& c, uint32_t events);
  // Takes bytes read as part of the request or echo stream; false if the connection closed.
  bool consume(Conn& c, std::span<const uint8_t> data);
  bool send_reply(Conn& c);
  bool flush_echo(Conn& c);
  // recv into buffer_: bytes read, 0 on EAGAIN, -1 when the connection is over (closed here).
  ssize_t read_some(Conn& c);
  void set_interest(Conn& c, uint32_t interest);
  void close_conn(Conn& c);

  UniqueFd listener_;
  UniqueFd epoll_;
  std::chrono::steady_clock::time_point stop_at_;
  std::vector<std::unique_ptr<Conn>> conns_;  // indexed by fd
  std::vector<uint8_t> chunk_;
  std::vector<uint8_t> buffer_;
};

void BackendWorker::run() {
  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listener_.get();
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener_.get(), &ev);
  std::vector<epoll_event> events(256);
  while (std::chrono::steady_clock::now() < stop_at_) {
    int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), 500);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == listener_.get()) {
        accept_all();
      } else {
        on_event(events[i].data.fd, events[i].events);
      }
    }
  }
}

void BackendWorker::accept_all() {
  for (;;) {
    int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or a transient ECONNABORTED/EMFILE: the next wake retries
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (conns_.size() <= static_cast<size_t>(fd)) conns_.resize(fd + 1);
    conns_[fd] = std::make_unique<Conn>();
    Conn& c = *conns_[fd];
    c.fd.reset(fd);
    c.interest = EPOLLIN;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) close_conn(c);
  }
}

void BackendWorker::on_event(int fd, uint32_t events) {
  if (static_cast<size_t>(fd) >= conns_.size() || !conns_[fd]) return;
  Conn& c = *conns_[fd];
  if (c.serving) return on_serving(c, events);
  on_head(c);
}

ssize_t BackendWorker::read_some(Conn& c) {
  ssize_t n = ::recv(c.fd.get(), buffer_.data(), buffer_.size(), 0);
  if (n > 0) return n;
  if (n < 0 && errno == EAGAIN) return 0;
  close_conn(c);  // EOF, reset, or error: the load generator is done with this connection
  return -1;
}

void BackendWorker::on_head(Conn& c) {
  ssize_t n = read_some(c);
  if (n <= 0) return;
  c.head.insert(c.head.end(), buffer_.begin(), buffer_.begin() + n);
  size_t end = 0;
  switch (parse_head(c, end)) {
    case HeadStatus::kNeedMore:
      if (c.head.size() > kMaxHead) close_conn(c);
      return;
    case HeadStatus::kBad:
      return close_conn(c);
    case HeadStatus::kDone: {
      std::vector<uint8_t> head = std::move(c.head);
      c.head = {};
      return start_serving(c, std::span<const uint8_t>(head).subspan(end));
    }
  }
}

void BackendWorker::start_serving(Conn& c, std::span<const uint8_t> early) {
  c.serving = true;
  switch (c.request.mode) {
    case ServeMode::kSink:
      return;
    case ServeMode::kSource:
    case ServeMode::kSinkSource:
      return set_interest(c, EPOLLIN | EPOLLOUT);
    case ServeMode::kEcho:
    case ServeMode::kRequestReply:
      c.reply_left = c.request.reply_bytes;
      if (consume(c, early) && c.request.mode == ServeMode::kRequestReply &&
          c.request.request_bytes == 0) {
        send_reply(c);
      }
      return;
  }
}

void BackendWorker::on_serving(Conn& c, uint32_t events) {
  switch (c.request.mode) {
    case ServeMode::kSink:
    case ServeMode::kSource:
    case ServeMode::kSinkSource:
      if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        if (read_some(c) < 0) return;
      }
      if (c.request.mode != ServeMode::kSink && (events & EPOLLOUT)) {
        ssize_t n = ::send(c.fd.get(), chunk_.data(), chunk_.size(), MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN) close_conn(c);
      }
      return;
    case ServeMode::kEcho:
      return on_echo(c, events);
    case ServeMode::kRequestReply:
      return on_request_reply(c, events);
  }
}

bool BackendWorker::consume(Conn& c, std::span<const uint8_t> data) {
  if (data.empty()) return true;
  if (c.request.mode == ServeMode::kEcho) {
    c.pending.insert(c.pending.end(), data.begin(), data.end());
    return flush_echo(c);
  }
  c.request_seen += data.size();
  if (!c.replying && c.request_seen >= c.request.request_bytes) return send_reply(c);
  return true;
}

bool BackendWorker::flush_echo(Conn& c) {
  while (c.pending_offset < c.pending.size()) {
    ssize_t n = ::send(c.fd.get(), c.pending.data() + c.pending_offset,
                       c.pending.size() - c.pending_offset, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno != EAGAIN) {
        close_conn(c);
        return false;
      }
      set_interest(c, EPOLLOUT);  // stop reading until the client takes its echo
      return true;
    }
    c.pending_offset += static_cast<size_t>(n);
  }
  c.pending.clear();
  c.pending_offset = 0;
  set_interest(c, EPOLLIN);
  return true;
}

void BackendWorker::on_echo(Conn& c, uint32_t events) {
  if (!c.pending.empty()) {
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) flush_echo(c);
    return;
  }
  ssize_t n = read_some(c);
  if (n > 0) consume(c, std::span<const uint8_t>(buffer_.data(), static_cast<size_t>(n)));
}

void BackendWorker::on_request_reply(Conn& c, uint32_t events) {
  if (c.replying) {
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) send_reply(c);
    return;
  }
  ssize_t n = read_some(c);
  if (n > 0) consume(c, std::span<const uint8_t>(buffer_.data(), static_cast<size_t>(n)));
}

bool BackendWorker::send_reply(Conn& c) {
  c.replying = true;
  while (c.reply_left > 0) {
    size_t len = std::min<uint64_t>(c.reply_left, chunk_.size());
    ssize_t n = ::send(c.fd.get(), chunk_.data(), len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno != EAGAIN) break;
      set_interest(c, EPOLLOUT);
      return true;
    }
    c.reply_left -= static_cast<uint64_t>(n);
  }
  // The backend closes first: its FIN, relayed by the proxy, tells the client the reply is
  // complete, and the TIME_WAIT lands on server-side sockets, not on ephemeral ports.
  close_conn(c);
  return false;
}

void BackendWorker::set_interest(Conn& c, uint32_t interest) {
  if (c.interest == interest) return;
  c.interest = interest;
  epoll_event ev{};
  ev.events = interest;
  ev.data.fd = c.fd.get();
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
}

void BackendWorker::close_conn(Conn& c) {
  int fd = c.fd.get();
  conns_[fd].reset();  // the fd closes with it and leaves the epoll set
}

cloudlink::Result<UniqueFd> open_listener(const cloudlink::SocketAddress& address) {
  UniqueFd fd(::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return cloudlink::errno_error("socket");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (::bind(fd.get(), address.sockaddr_ptr(), address.length()) != 0) {
    return cloudlink::errno_error("bind " + address.to_string());
  }
  if (::listen(fd.get(), 4096) != 0) return cloudlink::errno_error("listen");
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  cloudlink::log_program_name() = "cloudlink-bench-backend";
  signal(SIGPIPE, SIG_IGN);
  CLI::App app{"cloudlink-bench-backend: sink/source/echo/request-reply server for the load test"};
  std::string listen;
  unsigned threads = 1;
  double lifetime = 3600;
  app.add_option("--listen", listen, "ADDR:PORT to listen on")->required();
  app.add_option("--threads", threads, "threads, each with its own listener and epoll")
      ->check(CLI::Range(1u, 256u))
      ->capture_default_str();
  app.add_option("--lifetime", lifetime, "exit after this many seconds")
      ->check(CLI::Range(1.0, 86400.0))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto address = cloudlink::SocketAddress::parse(listen);
  if (!address) {
    cloudlink::log_line("--listen %s: %s", listen.c_str(), address.error().message().c_str());
    return 2;
  }
  auto stop_at = std::chrono::steady_clock::now() +
                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                     std::chrono::duration<double>(lifetime));
  std::vector<std::thread> workers;
  for (unsigned i = 0; i < threads; ++i) {
    auto listener = open_listener(*address);
    if (!listener) {
      cloudlink::log_line("%s", listener.error().message().c_str());
      return 1;
    }
    workers.emplace_back([fd = std::move(*listener), stop_at]() mutable {
      BackendWorker(std::move(fd), stop_at).run();
    });
  }
  for (auto& w : workers) w.join();
  return 0;
}
