// The sockmap relay: once the preamble is written upstream, both sockets enter the BPF
// sockhash and the kernel moves bytes between them (bpf/sockmap_relay.bpf.c). User space watches
// each socket for FIN, RST and errors, passes a FIN on once every byte before it has been handed
// to the other socket, and removes the flow at close. It sees bytes only in the copy lane: when a
// direction's backlog behind a slow reader reaches kSockmapBacklogBytes, the program leaves the
// bytes on the source socket and user space copies them, in order, until the lane is empty.
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

#include "common/log.h"
#include "dataplane/clienthello.h"
#include "dataplane/worker.h"

namespace cloudlink::dataplane {

namespace {

// Backoff while a FIN waits for redirected bytes still queued in the kernel (the peer's
// psock backlog runs from a workqueue, so the FIN can be seen before the last bytes left).
constexpr __kernel_timespec kRetryDelays[] = {{0, 1'000'000},  {0, 2'000'000},  {0, 5'000'000},
                                              {0, 10'000'000}, {0, 50'000'000}, {0, 100'000'000}};

// A copy lane waiting for its turn backs off to 10 ms at most: it holds bytes a reader wants,
// and it moves them 64 KiB at a time.
constexpr size_t kLaneRetryLevels = 4;

bool read_tcp_info(int fd, tcp_info& info) {
  std::memset(&info, 0, sizeof info);
  socklen_t len = sizeof info;
  return ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0;
}

// Bytes handed to this socket for sending: acknowledged plus still queued (SIOCOUTQ).
uint64_t bytes_written(int fd) {
  tcp_info info;
  if (!read_tcp_info(fd, info)) return 0;
  int queued = 0;
  if (::ioctl(fd, SIOCOUTQ, &queued) != 0 || queued < 0) queued = 0;
  return info.tcpi_bytes_acked + static_cast<uint64_t>(queued);
}

bool is_established(int fd) {
  tcp_info info;
  constexpr uint8_t kEstablished = 1;  // tcpi_state, as in the kernel's tcp_states.h
  return read_tcp_info(fd, info) && info.tcpi_state == kEstablished;
}

int socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

}  // namespace

// Called each time the preamble (or a later piece of it) is fully sent. The ClientHello read may
// have stopped in the middle of an skb, and the kernel's verdict path (tcp_read_skb) hands
// such an skb to the program whole, so its already-read head would be relayed twice. So before
// the client socket enters the map, user space reads it empty and sends those bytes on itself:
// true while it is still doing that (a send is in flight, or the flow failed).
bool Worker::sockmap_drain_client(uint32_t slot) {
  Connection& c = conn(slot);
  uint8_t* at = c.hello.get() + kHelloHeadroom;
  const ssize_t n = ::recv(c.client_fd, at, tls::kMaxClientHelloBytes, MSG_DONTWAIT);
  if (n < 0 && errno != EAGAIN) {
    fail_flow(slot, errno);
    return true;
  }
  if (n <= 0) return false;  // empty (or only a FIN, which the poll will see)
  c.sockmap_consumed[kClientToTarget] += static_cast<uint64_t>(n);
  c.preamble_start = kHelloHeadroom;
  c.preamble_end = kHelloHeadroom + static_cast<uint32_t>(n);
  io_uring_sqe* sqe = submit(Op::kPreambleSend, slot);
  io_uring_prep_send(sqe, c.target_fd, at, static_cast<uint32_t>(n), MSG_NOSIGNAL);
  return true;
}

void Worker::sockmap_start(uint32_t slot) {
  Connection& c = conn(slot);
  // What user space already moved: the client's bytes it read went out in the preamble (and
  // the drain after it), which the target socket counts as written.
  c.sockmap_consumed[kClientToTarget] += c.hello_length;
  c.sockmap_consumed[kTargetToClient] = 0;
  c.sockmap_written_base[kClientToTarget] = bytes_written(c.target_fd);
  c.sockmap_written_base[kTargetToClient] = bytes_written(c.client_fd);
  // A sockhash takes only ESTABLISHED sockets: a peer that already sent its FIN (a client
  // that sent everything, a target that half-closed at once) is refused. Checked first, since
  // once the client is in the map a failed second insert could lose bytes; such a flow is
  // relayed with splice instead, nothing having been taken off either socket.
  bool touched = false;
  Result<SockmapFlow> flow = Error(EOPNOTSUPP, "not established");
  if (is_established(c.client_fd) && is_established(c.target_fd)) {
    flow = sockmap_->insert(c.client_fd, c.target_fd, c.sockmap_written_base.data(), &touched);
  }
  if (!flow && !touched) {
    metrics_.sockmap_fallback(SockmapFallback::kInsert).Increment();
    splice_start(slot);
    return;
  }
  if (!flow) {
    // Bytes may already have been taken off a socket that was in the map for a moment, so
    // this flow cannot move to another relay safely: it ends, visibly.
    log_warn("sockmap: %s", flow.error().message().c_str());
    metrics_.sockmap_fallback(SockmapFallback::kInsert).Increment();
    fail_flow(slot, flow.error().value());
    return;
  }
  c.sockmap_flow = *flow;
  c.in_sockmap = true;
  metrics_.sockmap_flows().Increment();
  // Bytes that arrived before the sockets entered the map sit in their receive queues, and the
  // verdict program only runs when the socket's data_ready fires. Setting SO_RCVLOWAT makes
  // TCP call data_ready now (tcp_set_rcvlowat), under the socket lock, so those bytes go
  // through the verdict first, ahead of anything that arrives later: none lost or reordered.
  const int one = 1;
  for (int fd : {c.client_fd, c.target_fd}) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
  }
  sockmap_arm_poll(slot, kClientToTarget);
  sockmap_arm_poll(slot, kTargetToClient);
}

// Watches the source of direction d for bytes left to the copy lane, its FIN, a reset or an
// error. io_uring always reports POLLRDHUP (with POLLERR and POLLHUP) whatever the mask, and
// RDHUP stays set once the FIN is in, so the watch ends there: what the lane still holds is then
// taken on timers, and a later reset from that side is seen through its peer (the failed FIN
// hand-over below), or by the idle timeout. Redirected bytes never make the socket readable
// (the program runs before the wake-up), so an idle watch costs nothing per byte.
void Worker::sockmap_arm_poll(uint32_t slot, Dir d) {
  Connection& c = conn(slot);
  Direction& dir = c.dirs[d];
  if (dir.poll_in_armed || dir.eof) return;
  io_uring_sqe* sqe = submit(Op::kSockmapPoll, slot, d);
  io_uring_prep_poll_add(sqe, source_fd(c, d), POLLIN | POLLRDHUP);
  dir.poll_in_armed = true;
}

void Worker::on_sockmap_poll(uint32_t slot, Dir d, int res) {
  Connection& c = conn(slot);
  Direction& dir = c.dirs[d];
  dir.poll_in_armed = false;
  if (res < 0) return fail_flow(slot, -res);
  const auto events = static_cast<unsigned>(res);
  if ((events & (POLLERR | POLLHUP)) != 0) {
    if (const int err = socket_error(source_fd(c, d)); err != 0) {
      return fail_flow(slot, err);
    }
  }
  if ((events & (POLLRDHUP | POLLHUP)) != 0) {
    dir.eof = true;
    c.last_active_ns = now_ns_;
  } else if (sockmap_->lane(c.sockmap_flow, d).passed == dir.lane_copied) {
    // Readable with nothing passed: bytes the verdict has not seen yet (it runs right after
    // they are queued). Looked at again shortly rather than at once, so this cannot spin.
    return sockmap_arm_retry(slot, d);
  }
  sockmap_pump(slot, d);
}

// Moves the copy lane of direction d on: bytes the program passed (left on the source) are read
// and sent by user space, in order. Two rules keep the byte order: the lane reads only once every
// byte the kernel redirected before them is in the destination's write queue (else they would
// overtake bytes still on its psock queue), and the program redirects again only once the lane
// has sent all it was given (passed == copied). A lane that cannot move yet waits on a timer.
void Worker::sockmap_pump(uint32_t slot, Dir d) {
  Connection& c = conn(slot);
  Direction& dir = c.dirs[d];
  if (dir.lane_send_armed || dir.shut) return;
  const SockmapLane lane = sockmap_->lane(c.sockmap_flow, d);
  if (lane.passed > dir.lane_copied) {
    const int64_t written =
        static_cast<int64_t>(bytes_written(destination_fd(c, d)) - c.sockmap_written_base[d]);
    if (written >= static_cast<int64_t>(lane.redirected + dir.lane_copied)) {
      if (!dir.lane_buffer) dir.lane_buffer = std::make_unique<uint8_t[]>(kSockmapLaneBytes);
      const size_t want = std::min<uint64_t>(kSockmapLaneBytes, lane.passed - dir.lane_copied);
      const ssize_t n = ::recv(source_fd(c, d), dir.lane_buffer.get(), want, MSG_DONTWAIT);
      if (n > 0) {
        dir.lane_length = static_cast<uint32_t>(n);
        dir.lane_sent = 0;
        dir.retries = 0;
        c.last_active_ns = now_ns_;
        io_uring_sqe* sqe = submit(Op::kSockmapLaneSend, slot, d);
        io_uring_prep_send(sqe, destination_fd(c, d), dir.lane_buffer.get(), dir.lane_length,
                           MSG_NOSIGNAL | MSG_WAITALL);
        dir.lane_send_armed = true;
        return;
      }
      // EAGAIN: the program counted the bytes before the kernel queued them for reading.
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return fail_flow(slot, errno);
    }
    return sockmap_arm_retry(slot, d, kLaneRetryLevels);
  }
  if (dir.eof) return sockmap_try_pass_eof(slot, d);
  sockmap_arm_poll(slot, d);
}

void Worker::on_sockmap_lane_send(uint32_t slot, Dir d, int res) {
  Connection& c = conn(slot);
  Direction& dir = c.dirs[d];
  dir.lane_send_armed = false;
  if (res < 0) return fail_flow(slot, -res);
  dir.lane_sent += static_cast<uint32_t>(res);
  c.last_active_ns = now_ns_;
  if (dir.lane_sent < dir.lane_length) {
    io_uring_sqe* sqe = submit(Op::kSockmapLaneSend, slot, d);
    io_uring_prep_send(sqe, destination_fd(c, d), dir.lane_buffer.get() + dir.lane_sent,
                       dir.lane_length - dir.lane_sent, MSG_NOSIGNAL | MSG_WAITALL);
    dir.lane_send_armed = true;
    return;
  }
  // Only now, with every byte in the destination's write queue, may the program redirect again.
  dir.lane_copied += dir.lane_length;
  dir.lane_length = 0;
  sockmap_->set_copied(c.sockmap_flow, d, dir.lane_copied);
  sockmap_pump(slot, d);
}

// The FIN of direction d is passed on only once every byte received before it has been handed
// to the destination socket; until then a short timer re-checks.
void Worker::sockmap_try_pass_eof(uint32_t slot, Dir d) {
  Connection& c = conn(slot);
  // A reset of either socket while the FIN waits (the destination's would strand the bytes
  // for good) ends the flow as a reset.
  for (int fd : {source_fd(c, d), destination_fd(c, d)}) {
    if (const int err = socket_error(fd); err != 0) {
      return fail_flow(slot, err);
    }
  }
  tcp_info info;
  if (!read_tcp_info(source_fd(c, d), info)) return fail_flow(slot, errno);
  const uint64_t received = info.tcpi_bytes_received > 0 ? info.tcpi_bytes_received - 1 : 0;
  const uint64_t relayed =
      bytes_written(destination_fd(c, d)) - c.sockmap_written_base[d] + c.sockmap_consumed[d];
  if (relayed >= received) return pass_on_eof(slot, d);
  sockmap_arm_retry(slot, d);
}

void Worker::sockmap_arm_retry(uint32_t slot, Dir d, size_t levels) {
  Direction& dir = conn(slot).dirs[d];
  if (dir.retry_armed) return;
  const size_t level = std::min<size_t>(dir.retries, std::min(levels, std::size(kRetryDelays)) - 1);
  if (dir.retries < 255) ++dir.retries;
  io_uring_sqe* sqe = submit(Op::kSockmapRetry, slot, d);
  io_uring_prep_timeout(sqe, const_cast<__kernel_timespec*>(&kRetryDelays[level]), 0, 0);
  dir.retry_armed = true;
}

void Worker::on_sockmap_retry(uint32_t slot, Dir d) {
  Connection& c = conn(slot);
  c.dirs[d].retry_armed = false;
  if (c.state == ConnState::kRelaying && !c.dirs[d].shut) sockmap_pump(slot, d);
}

// Once per tick: a flow whose lane overflowed is reset (the program drops its bytes from then
// on), and a lane holding bytes with nothing watching it is moved on. The program can pass
// bytes that only become readable later, behind the socket's own psock queue.
void Worker::sockmap_watch_lanes() {
  for (uint32_t slot = 0; slot < conns_.size(); ++slot) {
    Connection& c = conn(slot);
    if (c.state != ConnState::kRelaying || !c.in_sockmap) continue;
    for (Dir d : {kClientToTarget, kTargetToClient}) {
      const SockmapLane lane = sockmap_->lane(c.sockmap_flow, d);
      if (lane.overflow) {
        log_warn("sockmap: both readers of a flow stalled and its copy lane overflowed; reset");
        metrics_.sockmap_lane_overflows().Increment();
        fail_flow(slot, ENOBUFS);
        break;
      }
      const Direction& dir = c.dirs[d];
      if (lane.passed > dir.lane_copied && !dir.retry_armed && !dir.lane_send_armed) {
        sockmap_pump(slot, d);
      }
    }
  }
}

void Worker::sockmap_release(Connection& c) {
  if (!c.in_sockmap) return;
  sockmap_->remove(c.sockmap_flow);
  c.in_sockmap = false;
  metrics_.sockmap_flows().Decrement();
}

// User space sees no bytes in this mode, so activity comes from TCP: the most recent data
// received on either socket.
void Worker::sockmap_refresh_activity(Connection& c) {
  for (int fd : {c.client_fd, c.target_fd}) {
    tcp_info info;
    if (!read_tcp_info(fd, info)) continue;
    const int64_t at = now_ns_ - int64_t{info.tcpi_last_data_recv} * 1'000'000;
    if (at > c.last_active_ns) c.last_active_ns = at;
  }
}

}  // namespace cloudlink::dataplane
