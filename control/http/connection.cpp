#include "control/http/connection.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <span>

#include "common/proxy_accept.h"
#include "control/http/http_metrics.h"
#include "control/http/request_framing.h"
#include "control/http/request_log.h"
#include "control/http/request_target.h"
#include "control/http/response_wire.h"

namespace cloudlink::control::http {

namespace {

// The most one advance() reads before letting other connections have the loop.
constexpr size_t kReadBudget = 256 * 1024;
// Bytes asked of the socket at once while reading a head or body.
constexpr size_t kReadChunk = 16 * 1024;

std::string ip_text(const SocketAddress& address) {
  char text[INET6_ADDRSTRLEN] = {};
  const sockaddr* sa = address.sockaddr_ptr();
  if (address.family() == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, text, sizeof text);
  } else if (address.family() == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, text, sizeof text);
  }
  return text;
}

}  // namespace

const std::string& refused_connection_response() {
  static const std::string bytes = [] {
    Response busy = Response::error(503, "unavailable", "too many connections; try again later");
    busy.headers.emplace_back("Retry-After", "1");
    return serialize_response(busy, /*close=*/true, /*head_only=*/false);
  }();
  return bytes;
}

Connection::Connection(const Env& env, UniqueFd fd, const SocketAddress& peer, bool trusted,
                       ConnectionLimits::SourceTicket ticket)
    : env_(env),
      transport_(std::move(fd)),
      peer_(peer),
      client_(peer),
      trusted_(trusted),
      ticket_(std::move(ticket)),
      phase_(trusted              ? Phase::kProxy
             : env.tls != nullptr ? Phase::kHandshake
                                  : Phase::kHead) {}

void Connection::set_timer(Timer timer) {
  timer_ = timer;
  ++timer_epoch_;
}

void Connection::refuse(const char* reason) {
  refused_reason_ = reason;
  finish();
}

void Connection::advance() {
  again_ = false;
  size_t budget = kReadBudget;
  for (;;) {
    bool moved = false;
    switch (phase_) {
      case Phase::kProxy:
        moved = step_proxy();
        break;
      case Phase::kHandshake:
        moved = step_handshake();
        break;
      case Phase::kHead:
        moved = step_head(budget);
        break;
      case Phase::kBody:
        moved = step_body(budget);
        break;
      case Phase::kWriting:
        moved = step_write();
        break;
      case Phase::kIdle:
        moved = step_idle();
        break;
      case Phase::kLinger:
        moved = step_linger(budget);
        break;
      case Phase::kHandling:
      case Phase::kDone:
        return;
    }
    if (!moved) return;
  }
}

bool Connection::step_proxy() {
  char first[kMaxAcceptedProxyHeader];
  const Io peeked = transport_.peek(first, sizeof first);
  if (peeked.status == Io::Status::kWantRead) return false;
  if (peeked.status != Io::Status::kDone) {
    finish();  // the balancer went away before its header (a health check, say)
    return false;
  }
  const ProxyIntakeResult intake = take_proxy_header(
      std::span(reinterpret_cast<const uint8_t*>(first), peeked.bytes), /*trusted=*/true);
  switch (intake.status) {
    case ProxyIntake::kNeedMore:
      return false;  // the next bytes make a new edge
    case ProxyIntake::kNoHeader:
    case ProxyIntake::kRefused:
      refuse("bad_proxy");
      return false;
    case ProxyIntake::kTaken:
      break;
  }
  const Io taken = transport_.discard(intake.header.length);
  if (taken.status != Io::Status::kDone) {
    finish();
    return false;
  }
  client_ = proxied_client(intake.header, peer_);
  ticket_ = env_.limits.try_source(client_);
  if (!ticket_) {
    if (env_.tls == nullptr) {
      const std::string& busy = refused_connection_response();
      ::send(transport_.fd(), busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    refuse("per_source");
    return false;
  }
  phase_ = env_.tls != nullptr ? Phase::kHandshake : Phase::kHead;
  return true;
}

bool Connection::step_handshake() {
  if (!transport_.tls()) {
    // No TLS state until the client speaks: a silent socket stays cheap.
    char first;
    const Io peeked = transport_.peek(&first, 1);
    if (peeked.status == Io::Status::kWantRead) return false;
    if (peeked.status != Io::Status::kDone) {
      finish();
      return false;
    }
    SslCtxPtr context = env_.tls->current();
    if (!context || !transport_.start_tls(context.get())) {
      refuse("tls_handshake");
      return false;
    }
  }
  const Io io = transport_.handshake();
  switch (io.status) {
    case Io::Status::kDone:
      phase_ = Phase::kHead;
      return true;
    case Io::Status::kWantRead:
    case Io::Status::kWantWrite:
      return false;
    case Io::Status::kClosed:
      finish();
      return false;
    case Io::Status::kError:
      refuse("tls_handshake");
      return false;
  }
  return false;
}

Io Connection::read_more(size_t want) {
  // Read into scratch, then keep only what came: a connection's buffer grows with what its
  // client sent, not with what it might send.
  thread_local char scratch[kReadChunk];
  const Io io = transport_.read(scratch, std::min(want, sizeof scratch));
  if (io.status == Io::Status::kDone) in_.append(scratch, io.bytes);
  return io;
}

bool Connection::head_may_be_complete() {
  if (!parsed_ || in_.size() >= env_.options.max_head_bytes) return true;
  // A blank line ends a head: LF LF or LF CR LF, possibly across the last read's edge.
  size_t at = in_.find('\n', scanned_ >= 2 ? scanned_ - 2 : 0);
  for (; at != std::string::npos; at = in_.find('\n', at + 1)) {
    if (at + 1 < in_.size() && in_[at + 1] == '\n') return true;
    if (at + 2 < in_.size() && in_[at + 1] == '\r' && in_[at + 2] == '\n') return true;
  }
  scanned_ = in_.size();
  return false;
}

bool Connection::step_head(size_t& budget) {
  const size_t cap = env_.options.max_head_bytes;
  for (;;) {
    if (!in_.empty() && head_may_be_complete()) {
      parsed_ = true;
      const auto head = cloudlink::http::parse_request_head(
          std::span(reinterpret_cast<const uint8_t*>(in_.data()), in_.size()), cap);
      switch (head.status) {
        case cloudlink::http::HeadStatus::kComplete:
          return start_request(head);
        case cloudlink::http::HeadStatus::kMalformed:
          answer_error(400, std::string("malformed HTTP request: ") + head.reason, true);
          return true;
        case cloudlink::http::HeadStatus::kTooLarge:
          if (head.line_too_long) {
            answer_error(414, "request line is longer than " + std::to_string(cap) + " bytes",
                         true);
          } else {
            answer_error(431, "request head is larger than " + std::to_string(cap) + " bytes",
                         true);
          }
          return true;
        case cloudlink::http::HeadStatus::kNeedMore:
          break;
      }
    }
    if (budget == 0) {
      again_ = true;
      return false;
    }
    // Never past the cap: what comes after a head that big is not read at all.
    const size_t want = std::min({cap - std::min(cap, in_.size()), kReadChunk, budget});
    const Io io = read_more(want == 0 ? 1 : want);
    if (io.status != Io::Status::kDone) {
      if (io.status == Io::Status::kClosed || io.status == Io::Status::kError) finish();
      return false;
    }
    budget -= std::min(budget, io.bytes);
    // From anyone outside --accept-proxy-from, a PROXY header is refused, not parsed as HTTP
    // (TLS needs no check: such a header breaks the handshake).
    if (!trusted_ && !proxy_checked_ && !transport_.tls() && served_ == 0) {
      const auto intake = take_proxy_header(
          std::span(reinterpret_cast<const uint8_t*>(in_.data()), in_.size()), false);
      if (intake.status == ProxyIntake::kRefused) {
        refuse("bad_proxy");
        return false;
      }
      proxy_checked_ = in_.size() >= 12;
    }
  }
}

bool Connection::start_request(const cloudlink::http::HeadResult& head) {
  head_done_ = Clock::now();
  method_.assign(head.method);
  head_only_ = head.method == "HEAD";
  const Framing framing = frame_request(head, env_.options.max_body_bytes);
  auto target = decode_request_target(head.target);
  route_ = target ? env_.site.route_label(method_, target->path) : std::string(kUnmatchedRoute);
  if (framing.refuse_status == 413) {
    answer_error(
        413,
        "request body is larger than " + std::to_string(env_.options.max_body_bytes) + " bytes",
        true);
    return true;
  }
  if (framing.refuse_status != 0) {
    answer_error(framing.refuse_status, framing.refuse_message, true);
    return true;
  }
  if (!target) {
    answer_error(400, "request target: " + target.error().context(), true);
    return true;
  }
  request_ = RawRequest{};
  request_.method = method_;
  request_.target.assign(head.target);
  request_.path = std::move(target->path);
  request_.query = std::move(target->query);
  request_.content_type.assign(framing.content_type);
  request_.authorization.assign(framing.authorization);
  request_.has_body = framing.has_body;
  request_.remote_ip = ip_text(client_);
  request_.remote_port = client_.port();
  body_length_ = framing.body_length;
  keep_alive_ = framing.keep_alive && served_ + 1 < env_.options.keep_alive_max_requests;
  in_.erase(0, head.head_length);
  scanned_ = 0;
  parsed_ = false;
  if (framing.expect_continue && in_.size() < body_length_) {
    out_.assign(kContinueResponse);
    out_offset_ = 0;
  }
  phase_ = Phase::kBody;
  return true;
}

bool Connection::step_body(size_t& budget) {
  while (out_offset_ < out_.size()) {  // 100 Continue
    const Io io = transport_.write(out_.data() + out_offset_, out_.size() - out_offset_);
    if (io.status == Io::Status::kWantRead || io.status == Io::Status::kWantWrite) return false;
    if (io.status != Io::Status::kDone) {
      finish();
      return false;
    }
    out_offset_ += io.bytes;
  }
  out_.clear();
  out_offset_ = 0;
  while (in_.size() < body_length_) {
    if (budget == 0) {
      again_ = true;
      return false;
    }
    const size_t want =
        std::min({static_cast<size_t>(body_length_ - in_.size()), kReadChunk, budget});
    const Io io = read_more(want);
    if (io.status != Io::Status::kDone) {
      if (io.status == Io::Status::kClosed || io.status == Io::Status::kError) finish();
      return false;
    }
    budget -= std::min(budget, io.bytes);
  }
  request_.body.assign(in_, 0, body_length_);
  in_.erase(0, body_length_);
  phase_ = Phase::kHandling;
  set_timer(Timer::kNone);
  return false;
}

Job Connection::take_request(uint64_t key) {
  Job job;
  job.key = key;
  job.request = std::move(request_);
  job.keep_alive = keep_alive_;
  job.head_only = head_only_;
  request_ = RawRequest{};
  return job;
}

void Connection::deliver(Answer answer) {
  out_ = std::move(answer.bytes);
  out_offset_ = 0;
  status_ = answer.status;
  route_ = std::move(answer.route);
  user_ = std::move(answer.user);
  close_after_write_ = answer.close;
  linger_after_write_ = false;
  phase_ = Phase::kWriting;
  set_timer(Timer::kWrite);
}

void Connection::answer_error(int status, std::string_view message, bool linger) {
  if (route_.empty()) route_ = kUnmatchedRoute;
  out_ = serialize_response(Response::error(status, status_error_code(status), message),
                            /*close=*/true, head_only_);
  out_offset_ = 0;
  status_ = status;
  close_after_write_ = true;
  linger_after_write_ = linger;
  phase_ = Phase::kWriting;
  set_timer(Timer::kWrite);
}

void Connection::observe() {
  if (status_ == 0) return;
  const double seconds = head_done_ == Clock::time_point{}
                             ? -1.0
                             : std::chrono::duration<double>(Clock::now() - head_done_).count();
  const std::string_view route = route_.empty() ? kUnmatchedRoute : std::string_view(route_);
  env_.site.answered(route, method_.empty() ? std::string_view("other") : method_, status_,
                     seconds);
  const std::string source = client_.empty() ? std::string() : ip_text(client_);
  log_request({method_, route, status_, seconds, user_, source});
  user_.clear();
  status_ = 0;
}

bool Connection::step_write() {
  while (out_offset_ < out_.size()) {
    const Io io = transport_.write(out_.data() + out_offset_, out_.size() - out_offset_);
    if (io.status == Io::Status::kWantRead || io.status == Io::Status::kWantWrite) return false;
    if (io.status != Io::Status::kDone) {
      observe();
      finish();
      return false;
    }
    out_offset_ += io.bytes;
  }
  observe();
  std::string().swap(out_);
  out_offset_ = 0;
  ++served_;
  head_done_ = {};
  head_only_ = false;
  method_.clear();
  route_.clear();
  if (close_after_write_ || !keep_alive_) {
    if (!linger_after_write_) {
      transport_.shutdown_write();
      finish();
      return false;
    }
    transport_.shutdown_write();
    in_.clear();
    phase_ = Phase::kLinger;
    set_timer(Timer::kLinger);
    return true;
  }
  if (!in_.empty()) {
    phase_ = Phase::kHead;  // a pipelined request is already here
    set_timer(Timer::kRequest);
    return true;
  }
  std::string().swap(in_);  // an idle connection holds no buffer
  phase_ = Phase::kIdle;
  set_timer(Timer::kIdle);
  return true;
}

bool Connection::step_idle() {
  const Io io = read_more(kReadChunk);
  switch (io.status) {
    case Io::Status::kDone:
      phase_ = Phase::kHead;
      set_timer(Timer::kRequest);
      return true;
    case Io::Status::kWantRead:
    case Io::Status::kWantWrite:
      return false;
    case Io::Status::kClosed:
    case Io::Status::kError:
      finish();
      return false;
  }
  return false;
}

bool Connection::step_linger(size_t& budget) {
  for (;;) {
    if (budget == 0) {
      again_ = true;
      return false;
    }
    const Io io = transport_.discard(budget);
    budget -= std::min(budget, io.bytes);
    if (io.status == Io::Status::kDone) continue;
    if (io.status != Io::Status::kWantRead) finish();
    return false;
  }
}

void Connection::on_deadline() {
  switch (phase_) {
    case Phase::kHead:
    case Phase::kBody:
      // A request begun and not finished in time is told so; a silent connection is not.
      if (phase_ == Phase::kBody || !in_.empty()) {
        if (method_.empty()) route_ = kUnmatchedRoute;
        answer_error(408,
                     "the request was not received within " +
                         std::to_string(env_.options.request_timeout.count()) + " s",
                     false);
        advance();
        return;
      }
      finish();
      return;
    case Phase::kHandling:
      return;  // no timer runs while a handler has the request
    case Phase::kWriting:
      observe();
      finish();
      return;
    default:
      finish();
      return;
  }
}

}  // namespace cloudlink::control::http
