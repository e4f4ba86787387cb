// The listener handover between two dataplane processes (dataplane/handover.h) and how the
// successor assigns the sockets it receives (dataplane/listener.h), inside one process: a
// socket pair stands for the two processes, real listening sockets for the listeners.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstdio>
#include <set>
#include <thread>

#include "dataplane/fd_limit.h"
#include "dataplane/handover.h"
#include "dataplane/listener.h"
#include "dataplane/watchdog.h"
#include "temp_dir.h"

using namespace cloudlink;
using namespace cloudlink::dataplane;
using namespace std::chrono_literals;

namespace {

struct Pair {
  UniqueFd old_side;
  UniqueFd new_side;
};

Pair seqpacket_pair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

ino_t inode(int fd) {
  struct stat st {};
  EXPECT_EQ(::fstat(fd, &st), 0);
  return st.st_ino;
}

// A loopback address with a port nobody listens on (the kernel's pick, then released).
SocketAddress free_loopback_address() {
  UniqueFd probe(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(probe.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  socklen_t len = sizeof sin;
  EXPECT_EQ(::getsockname(probe.get(), reinterpret_cast<sockaddr*>(&sin), &len), 0);
  return *SocketAddress::parse("127.0.0.1:" + std::to_string(ntohs(sin.sin_port)));
}

SocketAddress bound_address(int fd) {
  sockaddr_storage sa;
  socklen_t len = sizeof sa;
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len), 0);
  return SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&sa), len);
}

TEST(Handover, EveryListenerArrivesAsTheSameSocketAcrossBatches) {
  // More than one batch (kFdsPerBatch), as with many workers and addresses.
  std::vector<UniqueFd> listeners;
  std::vector<int> raw;
  for (size_t i = 0; i < kFdsPerBatch + 7; ++i) {
    auto fd = open_listener(free_loopback_address());
    ASSERT_TRUE(fd.ok()) << fd.error().message();
    raw.push_back(fd->get());
    listeners.push_back(std::move(fd).value());
  }
  Pair pair = seqpacket_pair();
  std::vector<UniqueFd> received;
  std::thread successor([&] {
    auto r = receive_listeners(pair.new_side.get(), 5000ms);
    ASSERT_TRUE(r.ok()) << r.error().message();
    received = std::move(r).value();
    ASSERT_TRUE(send_ready(pair.new_side.get()).ok());
    ASSERT_TRUE(wait_released(pair.new_side.get(), 5000ms).ok());
  });
  ASSERT_TRUE(send_listeners(pair.old_side.get(), raw).ok());
  auto ready = wait_ready(pair.old_side.get(), 5000ms);
  ASSERT_TRUE(ready.ok()) << ready.error().message();
  EXPECT_EQ(*ready, ::getpid());
  ASSERT_TRUE(send_released(pair.old_side.get()).ok());
  successor.join();
  ASSERT_EQ(received.size(), raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    EXPECT_NE(received[i].get(), raw[i]);
    EXPECT_EQ(inode(received[i].get()), inode(raw[i])) << i;
    EXPECT_EQ(::fcntl(received[i].get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  }
}

TEST(Handover, ASuccessorThatGoesAwayOrStaysSilentIsAnErrorNotAHang) {
  {
    Pair pair = seqpacket_pair();
    pair.new_side.reset();  // exited before it was ready
    auto r = wait_ready(pair.old_side.get(), 5000ms);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().value(), EPIPE);
  }
  {
    Pair pair = seqpacket_pair();
    auto r = wait_ready(pair.old_side.get(), 50ms);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().value(), ETIMEDOUT);
  }
  {
    // Not the protocol: refused, and nothing received leaks.
    Pair pair = seqpacket_pair();
    ASSERT_EQ(::send(pair.old_side.get(), "hello, world....", 16, 0), 16);
    auto r = receive_listeners(pair.new_side.get(), 5000ms);
    ASSERT_FALSE(r.ok());
  }
}

TEST(AssignListeners, KeepsEveryHandedSocketAndOpensOnlyWhatIsMissing) {
  // The predecessor had 3 workers on address A; the successor has 2 and a new address B.
  std::vector<UniqueFd> first;
  auto a0 = open_listener(free_loopback_address());
  ASSERT_TRUE(a0.ok());
  const SocketAddress a = bound_address(a0->get());
  first.push_back(std::move(a0).value());
  for (int i = 0; i < 2; ++i) {
    auto fd = open_listener(a);
    ASSERT_TRUE(fd.ok()) << fd.error().message();
    first.push_back(std::move(fd).value());
  }
  auto other = open_listener(free_loopback_address());  // C: no longer configured
  ASSERT_TRUE(other.ok());
  const SocketAddress c = bound_address(other->get());
  std::set<ino_t> handed_a;
  for (auto& fd : first) handed_a.insert(inode(fd.get()));

  auto b_probe = open_listener(free_loopback_address());
  ASSERT_TRUE(b_probe.ok());
  const SocketAddress b = bound_address(b_probe->get());

  Config config;
  config.workers = 2;
  config.tls_listeners = {a};
  config.http_listeners = {b};
  std::vector<UniqueFd> inherited;
  for (auto& fd : first) inherited.emplace_back(::dup(fd.get()));
  inherited.emplace_back(::dup(other->get()));
  other->reset();
  auto assigned = assign_listeners(config, std::move(inherited));
  ASSERT_TRUE(assigned.ok()) << assigned.error().message();
  ASSERT_EQ(assigned->size(), 2u);

  std::set<ino_t> got_a;
  size_t got_b = 0;
  for (const auto& worker : *assigned) {
    bool worker_has_a = false;
    bool worker_has_b = false;
    for (const ListenerSocket& l : worker) {
      const SocketAddress at = bound_address(l.fd.get());
      EXPECT_FALSE(at == c);
      if (l.http) {
        EXPECT_TRUE(at == b);
        worker_has_b = true;
        ++got_b;
      } else {
        EXPECT_TRUE(at == a);
        got_a.insert(inode(l.fd.get()));
        worker_has_a = true;
      }
    }
    EXPECT_TRUE(worker_has_a && worker_has_b);
  }
  EXPECT_EQ(got_a, handed_a);  // all three kept, none new
  EXPECT_EQ(got_b, 2u);        // one new SO_REUSEPORT socket per worker beside the probe
}

TEST(FdLimit, SaysWhenMaxConnectionsCannotFit) {
  Config config;
  config.workers = 2;
  config.tls_listeners = {*SocketAddress::parse("127.0.0.1:443")};
  config.max_connections = 1000;
  EXPECT_EQ(fd_limit_warning(config, {100000, 100000}), "");
  const std::string copy = fd_limit_warning(config, {1024, 4096});
  EXPECT_NE(copy.find("--max-connections 1000"), std::string::npos) << copy;
  EXPECT_NE(copy.find("RLIMIT_NOFILE is 1024 (hard 4096)"), std::string::npos) << copy;
  EXPECT_NE(copy.find("LimitNOFILE="), std::string::npos) << copy;
  EXPECT_EQ(copy.find('\n'), std::string::npos);
  // Splice needs pipes as well: six descriptors a flow where copy needs two.
  config.relay = RelayMode::kSplice;
  EXPECT_GT(descriptors_needed(config), 6000u);
  config.relay = RelayMode::kCopy;
  EXPECT_LT(descriptors_needed(config), 2200u);
  EXPECT_GE(descriptors_needed(config), 2000u);

  auto raised = raise_fd_limit();
  ASSERT_TRUE(raised.ok()) << raised.error().message();
  EXPECT_EQ(raised->soft, raised->hard);
}

// systemd's side of sd_notify: a datagram socket named by NOTIFY_SOCKET.
class FakeNotifySocket {
 public:
  FakeNotifySocket() {
    path_ = dir_.path() + "/notify";
    fd_ = UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path_.c_str());
    EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  }
  ~FakeNotifySocket() { ::unsetenv("NOTIFY_SOCKET"); }
  // Every datagram received so far, joined by '|'.
  std::string take() {
    std::string all;
    char buffer[4096];
    ssize_t n;
    while ((n = ::recv(fd_.get(), buffer, sizeof buffer, 0)) > 0) {
      if (!all.empty()) all += "|";
      all.append(buffer, static_cast<size_t>(n));
    }
    return all;
  }

 private:
  cloudlink::testing::TempDir dir_;
  std::string path_;
  UniqueFd fd_;
};

TEST(Watchdog, PingsOncePerPeriodAndOnlyWhileEveryWorkerTicks) {
  FakeNotifySocket systemd;
  const int64_t ms = 1'000'000;
  Watchdog watchdog(2, std::chrono::microseconds(1000 * 1000));  // a period of 1 s
  watchdog.beat(0, 5000 * ms);
  watchdog.beat(1, 5000 * ms);
  EXPECT_EQ(systemd.take(), "WATCHDOG=1");
  watchdog.beat(0, 5500 * ms);
  watchdog.beat(1, 5500 * ms);
  EXPECT_EQ(systemd.take(), "");  // within the period
  // Worker 1 wedged: worker 0 alone keeps ticking, and no heartbeat goes out.
  for (int64_t t = 6600; t <= 9000; t += 100) watchdog.beat(0, t * ms);
  EXPECT_EQ(systemd.take(), "");
  watchdog.beat(1, 9050 * ms);
  watchdog.beat(0, 9100 * ms);
  EXPECT_EQ(systemd.take(), "WATCHDOG=1");
  // After a handover the successor speaks for the service.
  watchdog.silence();
  watchdog.beat(0, 20000 * ms);
  watchdog.beat(1, 20000 * ms);
  EXPECT_EQ(systemd.take(), "");

  Watchdog disabled(1, std::nullopt);
  disabled.beat(0, 30000 * ms);
  EXPECT_EQ(systemd.take(), "");
}

}  // namespace
