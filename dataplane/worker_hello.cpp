// From accept to relay: read the ClientHello, look the name up, connect to a target, and send
// it the PROXY header and the bytes already read.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "common/hostname.h"
#include "common/http_head.h"
#include "common/log.h"
#include "common/proxy_accept.h"
#include "common/proxy_v2.h"
#include "dataplane/clienthello.h"
#include "dataplane/tls_alert.h"
#include "dataplane/worker.h"

namespace cloudlink::dataplane {

namespace {
int64_t to_ns(std::chrono::milliseconds ms) { return int64_t{ms.count()} * 1'000'000; }
}  // namespace

void Worker::submit_hello_recv(uint32_t slot) {
  Connection& c = conn(slot);
  io_uring_sqe* sqe = submit(Op::kHelloRecv, slot);
  uint8_t* at = c.hello.get() + kHelloHeadroom + c.hello_length;
  const size_t cap = c.http ? http::kMaxRequestHeadBytes : tls::kMaxClientHelloBytes;
  io_uring_prep_recv(sqe, c.client_fd, at, cap - c.hello_length, 0);
}

void Worker::on_hello_recv(uint32_t slot, int res) {
  Connection& c = conn(slot);
  if (res <= 0) {
    // 0: the client closed before a whole ClientHello.
    if (res == 0) c.dirs[kClientToTarget].eof = true;
    close_connection(slot, res == -ECONNRESET ? CloseResult::kReset : CloseResult::kBadHello);
    return;
  }
  c.hello_length += static_cast<uint32_t>(res);
  if (!take_proxy_header(slot)) return;
  if (c.http) {
    on_http_head(slot);
    return;
  }
  const std::span<const uint8_t> data(c.hello.get() + kHelloHeadroom, c.hello_length);
  const tls::HelloResult hello = tls::parse_client_hello(
      data, std::span<uint8_t>(hello_scratch_.get(), tls::kMaxClientHelloBytes));
  switch (hello.status) {
    case tls::HelloStatus::kNeedMore:
      if (c.hello_length < tls::kMaxClientHelloBytes) {
        submit_hello_recv(slot);
        return;
      }
      [[fallthrough]];  // the cap is reached without a whole hello: too large
    case tls::HelloStatus::kTooLarge:
    case tls::HelloStatus::kMalformed:
      reject(slot, CloseResult::kBadHello, tls::kDecodeErrorAlert.data(),
             tls::kDecodeErrorAlert.size());
      return;
    case tls::HelloStatus::kNotTls:
      close_connection(slot, CloseResult::kNotTls);
      return;
    case tls::HelloStatus::kComplete:
      break;
  }
  metrics_.hello_wait().Observe(static_cast<double>(now_ns_ - c.accepted_ns) / 1e9);
  hello_deadlines_.remove(slot);
  c.sni_length = static_cast<uint8_t>(normalize_hostname(hello.server_name, c.sni));
  route_client_hello(slot);
}

// A trusted load balancer's PROXY header, first on the connection: its source becomes the
// client (for the access log and the PROXY header we send on), and its bytes are dropped so
// what follows is read as if it came first. False when the connection is closed or more
// bytes are needed (a recv is armed).
bool Worker::take_proxy_header(uint32_t slot) {
  Connection& c = conn(slot);
  uint8_t* data = c.hello.get() + kHelloHeadroom;
  const ProxyIntakeResult intake = cloudlink::take_proxy_header(
      std::span<const uint8_t>(data, c.hello_length), c.proxy_expected);
  switch (intake.status) {
    case ProxyIntake::kNoHeader:
      return true;
    case ProxyIntake::kNeedMore:
      submit_hello_recv(slot);
      return false;
    case ProxyIntake::kRefused:
      close_connection(slot, CloseResult::kBadProxy);
      return false;
    case ProxyIntake::kTaken:
      break;
  }
  const ProxyV2Header& header = intake.header;
  if (!header.local_command && !header.source.empty()) {
    c.client_addr = header.source;
    c.local_addr = header.destination;
  }
  c.proxy_expected = false;
  c.hello_length -= static_cast<uint32_t>(header.length);
  std::memmove(data, data + header.length, c.hello_length);
  if (c.hello_length == 0) {
    submit_hello_recv(slot);
    return false;
  }
  return true;
}

void Worker::route_client_hello(uint32_t slot) {
  Connection& c = conn(slot);
  if (c.sni_length == 0) {
    reject(slot, CloseResult::kNoSni, tls::kUnrecognizedNameAlert.data(),
           tls::kUnrecognizedNameAlert.size());
    return;
  }
  switch (reader_->lookup(c.sni_view(), c.route)) {
    case LookupStatus::kFound:
      break;
    case LookupStatus::kNotFound:
      reject(slot, CloseResult::kUnknownSni, tls::kUnrecognizedNameAlert.data(),
             tls::kUnrecognizedNameAlert.size());
      return;
    case LookupStatus::kError:
      log_error("route lookup for %.*s: %s", static_cast<int>(c.sni_length), c.sni,
                reader_->last_error());
      close_connection(slot, CloseResult::kRouteError);
      return;
  }
  start_route(slot);
}

void Worker::start_route(uint32_t slot) {
  if (conn(slot).connect_targets().empty()) {
    close_connection(slot, CloseResult::kTargetsDown);
    return;
  }
  start_connect(slot);
}

void Worker::reject(uint32_t slot, CloseResult result, const uint8_t* alert,
                    uint32_t alert_length) {
  Connection& c = conn(slot);
  c.state = ConnState::kRejecting;
  c.result = result;
  io_uring_sqe* sqe = submit(Op::kAlertSend, slot);
  io_uring_prep_send(sqe, c.client_fd, alert, alert_length, MSG_NOSIGNAL);
}

void Worker::on_alert_sent(uint32_t slot, int /*res*/) {
  Connection& c = conn(slot);
  // FIN after the alert; close() alone could turn into a reset if the client sent more.
  ::shutdown(c.client_fd, SHUT_WR);
  c.dirs[kTargetToClient].shut = true;
  close_connection(slot, c.result);
}

void Worker::start_connect(uint32_t slot) {
  Connection& c = conn(slot);
  if (c.target_fd >= 0) {
    ::close(c.target_fd);
    c.target_fd = -1;
  }
  const std::span<const SocketAddress> targets = c.connect_targets();
  const int index = balancer_.pick(targets, c.tried_targets);
  if (index < 0) {
    c.target = SocketAddress();
    close_connection(slot, CloseResult::kTargetsDown);
    return;
  }
  c.tried_targets |= 1u << index;
  c.target = targets[static_cast<size_t>(index)];
  balancer_.opened(c.target);
  c.target_counted = true;
  c.target_fd = ::socket(c.target.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c.target_fd < 0) {
    metrics_.upstream_failure(UpstreamFailure::kError).Increment();
    close_connection(slot, CloseResult::kError);
    return;
  }
  int one = 1;
  ::setsockopt(c.target_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c.state = ConnState::kConnecting;
  c.connect_started_ns = now_ns_;
  connect_deadlines_.push_back(slot, now_ns_ + to_ns(config_.connect_timeout));
  io_uring_sqe* sqe = submit(Op::kConnect, slot);
  io_uring_prep_connect(sqe, c.target_fd, c.target.sockaddr_ptr(), c.target.length());
}

void Worker::on_connect(uint32_t slot, int res) {
  Connection& c = conn(slot);
  connect_deadlines_.remove(slot);
  if (res < 0) {
    const UpstreamFailure why = res == -ECONNREFUSED ? UpstreamFailure::kRefused
                                : (res == -ECANCELED || res == -ETIMEDOUT)
                                    ? UpstreamFailure::kTimeout
                                    : UpstreamFailure::kError;
    metrics_.upstream_failure(why).Increment();
    balancer_.closed(c.target);
    c.target_counted = false;
    start_connect(slot);  // the next target, or targets_down when none is left
    return;
  }
  metrics_.connect_time().Observe(static_cast<double>(now_ns_ - c.connect_started_ns) / 1e9);
  metrics_.routed().Increment();
  send_preamble(slot);
}

void Worker::send_preamble(uint32_t slot) {
  Connection& c = conn(slot);
  c.state = ConnState::kSendingPreamble;
  c.preamble_start = kHelloHeadroom;
  c.preamble_end = kHelloHeadroom + c.hello_length;
  if (c.route.has_flag(kRouteProxyV2)) {
    uint8_t header[kProxyV2MaxHeaderLength];
    const size_t n = encode_proxy_v2(c.client_addr, c.local_addr,
                                     std::span<uint8_t, kProxyV2MaxHeaderLength>(header));
    c.preamble_start -= static_cast<uint32_t>(n);
    std::memcpy(c.hello.get() + c.preamble_start, header, n);
  }
  io_uring_sqe* sqe = submit(Op::kPreambleSend, slot);
  io_uring_prep_send(sqe, c.target_fd, c.hello.get() + c.preamble_start,
                     c.preamble_end - c.preamble_start, MSG_NOSIGNAL);
}

void Worker::on_preamble_sent(uint32_t slot, int res) {
  Connection& c = conn(slot);
  if (res < 0) {
    c.abort = true;
    close_connection(
        slot, res == -ECONNRESET || res == -EPIPE ? CloseResult::kReset : CloseResult::kError);
    return;
  }
  c.preamble_start += static_cast<uint32_t>(res);
  if (c.preamble_start < c.preamble_end) {
    io_uring_sqe* sqe = submit(Op::kPreambleSend, slot);
    io_uring_prep_send(sqe, c.target_fd, c.hello.get() + c.preamble_start,
                       c.preamble_end - c.preamble_start, MSG_NOSIGNAL);
    return;
  }
  if (config_.relay == RelayMode::kSockmap && sockmap_drain_client(slot)) return;
  return_hello_buffer(std::move(c.hello));
  start_relay(slot);
}

}  // namespace cloudlink::dataplane
