// cloudlink-home's small parts: reconnect backoff, the status file round trip, the OpenSSH
// command line equivalent to a service's tunnels.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>

#include <chrono>

#include "home-agent/commands/ssh_command.h"
#include "home-agent/config/atomic_file.h"
#include "home-agent/status/status_board.h"
#include "home-agent/status/status_file.h"
#include "home-agent/tunnel/backoff.h"
#include "home-agent/tunnel/target_connect.h"
#include "temp_dir.h"
#include "test_result.h"

namespace cloudlink::home {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, DoublesFromOneSecondUpToThirtyWithJitter) {
  Backoff backoff(milliseconds(1000), milliseconds(30000), 42);
  const long long bases[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
  for (long long base : bases) {
    long long delay = backoff.next().count();
    EXPECT_GE(delay, base * 8 / 10) << base;
    EXPECT_LE(delay, std::min(base * 12 / 10, 30000LL)) << base;
  }
  backoff.reset();
  EXPECT_LE(backoff.next().count(), 1200);
}

TEST(Backoff, JitterSpreadsHomesApart) {
  Backoff a(milliseconds(1000), milliseconds(30000), 1);
  Backoff b(milliseconds(1000), milliseconds(30000), 2);
  bool differ = false;
  for (int i = 0; i < 5; ++i) differ = differ || a.next() != b.next();
  EXPECT_TRUE(differ);
}

TEST(StatusFile, RunningAgentAndStoppedAgent) {
  testing::TempDir dir;
  StatusBoard board;
  size_t t = board.add("app.example.com#0", "127.0.0.1:8443", 20000);
  board.set_state(t, TunnelState::kUp);
  board.channel_opened(t);
  board.add_bytes(t, 10, 20);
  board.set_state(t, TunnelState::kUp, "connect 127.0.0.1:8443: Connection refused");
  std::string path = status_path_for(dir.path() + "/cloudlink.yaml");
  EXPECT_EQ(path, dir.path() + "/cloudlink.yaml.status.json");

  ASSERT_OK(write_status_file(path, ::getpid(), true, board.snapshot()));
  auto running = describe_status(path);
  ASSERT_OK(running);
  EXPECT_NE(running->find("agent: running, pid " + std::to_string(::getpid())), std::string::npos);
  EXPECT_NE(running->find("app.example.com#0 127.0.0.1:20000 -> 127.0.0.1:8443: up since"),
            std::string::npos)
      << *running;
  EXPECT_NE(running->find("bytes in 10 out 20, connections 1 (1 open), last error: connect "),
            std::string::npos)
      << *running;

  ASSERT_OK(write_status_file(path, ::getpid(), false, board.snapshot()));
  auto stopped = describe_status(path);
  ASSERT_FALSE(stopped.ok());
  EXPECT_NE(stopped.error().context().find("agent: not running"), std::string::npos);
  EXPECT_NE(stopped.error().context().find(": down since"), std::string::npos);
}

TEST(StatusFile, MissingOrGarbage) {
  testing::TempDir dir;
  auto missing = describe_status(dir.path() + "/none.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().context().find("not running"), std::string::npos);
  for (const char* garbage :
       {"{", "[]", "{\"pid\": \"x\", \"tunnels\": []}", "{\"tunnels\": [{\"name\": 5}]}"}) {
    ASSERT_OK(write_file_atomically(dir.path() + "/g.json", garbage));
    auto result = describe_status(dir.path() + "/g.json");
    EXPECT_FALSE(result.ok()) << garbage;
  }
}

TEST(SshCommand, OneLinePerConnectionWithThePinnedHostKey) {
  AgentConfig config;
  config.ssh = SshConfig{"vps.example.com", 2222, "cloudlink", "keys/home key",
                         "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDZZ"};
  config.services.push_back(
      ServiceConfig{"app.example.com", "::1", 8443, {20000, 20001}, 2, false});
  auto lines = ssh_command_lines(config, "/etc/cloudlink/cloudlink.yaml", "app.example.com");
  ASSERT_OK(lines);
  ASSERT_EQ(lines->size(), 2u);
  EXPECT_EQ((*lines)[0],
            "ssh -N -o ExitOnForwardFailure=yes -o ServerAliveInterval=10 -o "
            "ServerAliveCountMax=3 -o IdentitiesOnly=yes -o BatchMode=yes -o "
            "StrictHostKeyChecking=yes -o UserKnownHostsFile=/dev/null -o "
            "'KnownHostsCommand=/bin/echo [vps.example.com]:2222 ssh-ed25519 "
            "AAAAC3NzaC1lZDI1NTE5AAAAIDZZ' -i '/etc/cloudlink/keys/home key' -p 2222 -R "
            "'127.0.0.1:20000:[::1]:8443' cloudlink@vps.example.com");
  EXPECT_NE((*lines)[1].find("-R '127.0.0.1:20001:[::1]:8443' "), std::string::npos);
  EXPECT_ERR_WITH(ssh_command_lines(config, "c.yaml", "other.example.com"),
                  "no service with hostname other.example.com");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote(""), "''");
}

// A listening loopback socket; its port. Closing it leaves a port that refuses.
UniqueFd listen_loopback(uint16_t* port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length), 0);
  EXPECT_EQ(::listen(fd.get(), 4), 0);
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length);
  *port = ntohs(address.sin_port);
  return fd;
}

TargetConnector::State wait_for(TargetConnector& connector) {
  for (int i = 0; i < 100; ++i) {
    pollfd p{connector.fd(), POLLOUT, 0};
    ::poll(&p, 1, 50);
    auto state = connector.check();
    if (state != TargetConnector::State::kPending) return state;
  }
  return TargetConnector::State::kPending;
}

TEST(TargetConnector, ConnectsWithoutBlockingAndReportsRefusal) {
  uint16_t port = 0;
  UniqueFd listener = listen_loopback(&port);
  auto connector = TargetConnector::start("127.0.0.1", port);
  ASSERT_OK(connector);
  ASSERT_EQ(wait_for(*connector), TargetConnector::State::kConnected);
  UniqueFd connected = connector->take();
  EXPECT_TRUE(connected);
  EXPECT_GT(::fcntl(connected.get(), F_GETFL) & O_NONBLOCK, 0);

  listener.reset();
  auto refused = TargetConnector::start("localhost", port);
  ASSERT_OK(refused);
  EXPECT_EQ(wait_for(*refused), TargetConnector::State::kFailed);
  EXPECT_EQ(refused->error(), "connect localhost:" + std::to_string(port) + ": Connection refused");
  EXPECT_ERR_WITH(TargetConnector::start("no-such-host.invalid", port),
                  "resolve no-such-host.invalid:");
}

}  // namespace
}  // namespace cloudlink::home
