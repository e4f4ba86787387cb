#include "home-agent/tunnel/serve_forwards.h"

#include <libssh/server.h>  // ssh_send_keepalive, which clients may send too
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

#include "home-agent/tunnel/pump.h"
#include "home-agent/tunnel/target_connect.h"

namespace cloudlink::home {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kTargetConnectTimeout = std::chrono::seconds(5);
constexpr int kIdlePollMs = 500;

// Counters libssh updates as packets arrive; the only portable "last heard from" signal.
class PacketCounters {
 public:
  explicit PacketCounters(ssh_session session) : session_(session) {
    ssh_set_counters(session_, &sent_, &received_);
  }
  ~PacketCounters() { ssh_set_counters(session_, nullptr, nullptr); }
  PacketCounters(const PacketCounters&) = delete;
  PacketCounters& operator=(const PacketCounters&) = delete;
  uint64_t received_packets() const { return received_.in_packets; }

 private:
  ssh_session session_;
  ssh_counter_struct sent_{};
  ssh_counter_struct received_{};
};

// ssh_get_error() keeps the last error of any call (an empty accept leaves "No channel request
// of this type"), so it says nothing about why the connection ended; the server's disconnect
// message does, when it sent one.
std::string lost_reason(ssh_session session) {
  const char* message = ssh_get_disconnect_message(session);
  if (message != nullptr && *message != '\0') {
    return std::string("connection lost: the server said \"") + message + "\"";
  }
  return "connection lost: the server or the network closed it";
}

bool session_closed(ssh_session session) {
  return !ssh_is_connected(session) ||
         (ssh_get_status(session) & (SSH_CLOSED | SSH_CLOSED_ERROR)) != 0;
}

// A service that is down would otherwise log one line per client connection, at whatever rate
// the internet connects: the first failure is logged, then at most one line per interval,
// saying how many were not.
class FailureLog {
 public:
  static constexpr auto kInterval = std::chrono::seconds(10);

  void report(StatusBoard& board, size_t tunnel, const std::string& error) {
    auto now = Clock::now();
    if (logged_ && now - last_ < kInterval) {
      ++suppressed_;
      board.set_state(tunnel, TunnelState::kUp, error, /*log=*/false);
      return;
    }
    std::string line = error;
    if (suppressed_ > 0) line += " (and " + std::to_string(suppressed_) + " more not logged)";
    board.set_state(tunnel, TunnelState::kUp, line);
    logged_ = true;
    last_ = now;
    suppressed_ = 0;
  }

 private:
  bool logged_ = false;
  Clock::time_point last_{};
  uint64_t suppressed_ = 0;
};

// A forwarded channel whose connection to the service is still being made.
struct PendingChannel {
  SshChannel channel;
  TargetConnector connector;
  Clock::time_point deadline;
};

// Accepts every forwarded channel the server has opened and starts its connection to the
// service; a channel whose service cannot be reached is closed (the VPS client sees its
// connection end).
void accept_channels(ssh_session session, const ServiceConfig& service, StatusBoard& board,
                     size_t tunnel, FailureLog& failures, std::vector<PendingChannel>& pending) {
  while (true) {
    int port = 0;
    char* originator = nullptr;
    int originator_port = 0;
    ssh_channel raw =
        ssh_channel_open_forward_port(session, 0, &port, &originator, &originator_port);
    SshText owned_originator(originator);
    if (raw == nullptr) return;
    SshChannel channel(raw);
    auto connector = TargetConnector::start(service.target_host, service.target_port);
    if (!connector.ok()) {
      failures.report(board, tunnel, connector.error().message());
      ssh_channel_close(channel.get());
      continue;
    }
    pending.push_back(PendingChannel{std::move(channel), std::move(*connector),
                                     Clock::now() + kTargetConnectTimeout});
  }
}

// Moves channels whose service connection is made into pumps; closes those that failed or
// took too long. True when any changed.
bool advance_pending(std::vector<PendingChannel>& pending, StatusBoard& board, size_t tunnel,
                     FailureLog& failures, std::vector<std::unique_ptr<Pump>>& pumps) {
  bool changed = false;
  auto now = Clock::now();
  for (size_t i = 0; i < pending.size();) {
    PendingChannel& p = pending[i];
    TargetConnector::State state = p.connector.check();
    bool gone = ssh_channel_is_closed(p.channel.get());  // the VPS client left meanwhile
    if (state == TargetConnector::State::kPending && !gone && now < p.deadline) {
      ++i;
      continue;
    }
    if (state == TargetConnector::State::kConnected && !gone) {
      board.channel_opened(tunnel);
      pumps.push_back(std::make_unique<Pump>(std::move(p.channel), p.connector.take()));
    } else {
      if (!gone) {
        failures.report(board, tunnel,
                        state == TargetConnector::State::kFailed
                            ? p.connector.error()
                            : "connect " + p.connector.where() + ": timed out");
      }
      ssh_channel_close(p.channel.get());
    }
    pending[i] = std::move(pending.back());
    pending.pop_back();
    changed = true;
  }
  return changed;
}

// Steps every pump once; drops the finished ones. True when any byte or EOF moved.
bool step_pumps(std::vector<std::unique_ptr<Pump>>& pumps, StatusBoard& board, size_t tunnel) {
  bool busy = false;
  uint64_t in = 0;
  uint64_t out = 0;
  for (size_t i = 0; i < pumps.size();) {
    Pump::Progress progress = pumps[i]->step(&in, &out);
    if (progress == Pump::Progress::kDone) {
      pumps[i] = std::move(pumps.back());
      pumps.pop_back();
      board.channel_closed(tunnel);
      busy = true;
      continue;
    }
    busy = busy || progress == Pump::Progress::kMoved;
    ++i;
  }
  if (in != 0 || out != 0) board.add_bytes(tunnel, in, out);
  return busy;
}

void wait_for_events(ssh_session session, const std::vector<std::unique_ptr<Pump>>& pumps,
                     const std::vector<PendingChannel>& pending, std::vector<pollfd>& fds,
                     int timeout_ms) {
  fds.clear();
  short session_events = POLLIN;
  if (ssh_get_poll_flags(session) & SSH_WRITE_PENDING) session_events |= POLLOUT;
  fds.push_back(pollfd{ssh_get_fd(session), session_events, 0});
  for (const auto& pump : pumps) fds.push_back(pollfd{pump->target_fd(), pump->target_events(), 0});
  for (const auto& p : pending) fds.push_back(pollfd{p.connector.fd(), POLLOUT, 0});
  // A pending connect has a deadline of its own: wake up for it.
  ::poll(fds.data(), fds.size(), pending.empty() ? timeout_ms : std::min(timeout_ms, 100));
}

}  // namespace

std::string serve_forwards(ssh_session session, const ServiceConfig& service, StatusBoard& board,
                           size_t tunnel, const std::atomic<bool>& stop,
                           const KeepaliveSettings& keepalive) {
  // The kernel gives up on a peer that stops acknowledging (a VPS gone from the network)
  // after this long, even while a large write is queued and no keepalive can be answered.
  auto user_timeout_ms = static_cast<unsigned>(keepalive.dead_after.count());
  ::setsockopt(ssh_get_fd(session), IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms,
               sizeof user_timeout_ms);
  PacketCounters counters(session);
  std::vector<std::unique_ptr<Pump>> pumps;
  std::vector<PendingChannel> pending;
  std::vector<pollfd> fds;
  FailureLog failures;
  uint64_t last_packets = counters.received_packets();
  auto last_heard = Clock::now();
  auto next_keepalive = last_heard + keepalive.interval;
  // Every libssh call may read packets off the socket into a channel's buffer or the queue of
  // channel opens, where poll() cannot see them: after any iteration in which packets arrived
  // (or bytes moved), go round again without sleeping. The first pass picks up what arrived
  // with the reply to the forward request.
  bool busy = true;
  while (!stop.load()) {
    wait_for_events(session, pumps, pending, fds, busy ? 0 : kIdlePollMs);
    // sshd sets TCP_NODELAY only for interactive sessions, so on a tunnel-only connection a
    // small write of sshd (a new connection's CHANNEL_OPEN or first bytes) waits until we ACK
    // its previous small packet, which we do not answer (typically the last connection's
    // CHANNEL_CLOSE; seen with tcpdump); with delayed ACKs that is ~40 ms per new connection
    // (issue 4). Quick ACKs are not sticky in Linux, and libssh also reads inside its channel
    // calls, hence re-armed on every pass rather than only when poll() saw input.
    int one = 1;
    ::setsockopt(ssh_get_fd(session), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    accept_channels(session, service, board, tunnel, failures, pending);
    bool connected = advance_pending(pending, board, tunnel, failures, pumps);
    busy = step_pumps(pumps, board, tunnel) || connected;
    if (ssh_get_poll_flags(session) & SSH_WRITE_PENDING) ssh_blocking_flush(session, 0);
    if (session_closed(session)) {
      for (size_t i = 0; i < pumps.size(); ++i) board.channel_closed(tunnel);
      return lost_reason(session);
    }
    auto now = Clock::now();
    if (counters.received_packets() != last_packets) {
      last_packets = counters.received_packets();
      last_heard = now;
      busy = true;
    } else if (now - last_heard > keepalive.dead_after) {
      for (size_t i = 0; i < pumps.size(); ++i) board.channel_closed(tunnel);
      char why[64];
      std::snprintf(why, sizeof why, "no answer from the server for %.1f s",
                    static_cast<double>(keepalive.dead_after.count()) / 1000.0);
      return why;
    }
    if (now >= next_keepalive) {
      ssh_send_keepalive(session);
      next_keepalive = now + keepalive.interval;
    }
  }
  for (size_t i = 0; i < pumps.size(); ++i) board.channel_closed(tunnel);
  return "";
}

}  // namespace cloudlink::home
