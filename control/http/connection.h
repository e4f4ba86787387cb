// One client connection of control's HTTP loop, as an explicit state machine the loop drives
// from socket events, deadlines and handler answers (the loop owns the socket's registration,
// the timer lists and the handler pool; this owns the bytes):
//
//   kProxy ─► kHandshake ─► kHead ─► kBody ─► kHandling ─► kWriting ─► kIdle ─► kHead ...
//   (trusted    (TLS only)    │        │     (a handler     │    └─► kLinger ─► kDone
//    peers)                   └────────┴──── thread has it) └─► kDone
//
// * kProxy: a trusted load balancer's PROXY v1/v2 header (common/proxy_accept.h), read with
//   MSG_PEEK and taken exactly, so TLS starts on the byte after it; its source becomes the
//   client (RawRequest::remote_ip) and is what the per-source limit counts.
// * kHandshake: OpenSSL, non-blocking; no TLS state is made before the client's first byte,
//   so a silent socket costs its descriptor, this object and a list link.
// * kHead: at most max_head_bytes, parsed by common/http_head.h (only when a blank line may
//   have arrived, so a trickled head costs O(n), not O(n^2)); kBody: exactly Content-Length
//   bytes (request_framing.h decides before any is read). Never more is read than the request
//   needs: the next pipelined request waits in the socket.
// * A request the loop refuses itself (400, 408, 411, 413, 414, 417, 431) is answered with
//   Connection: close; when unread bytes may follow, the connection then lingers: FIN sent,
//   input dropped for a short time, so the client reads the answer rather than a reset.
// Timers: kRequest from accept (or a kept-alive request's first byte) to the whole request,
// kWrite for the whole answer, kIdle between requests, kLinger at the end.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/http_head.h"
#include "common/socket_address.h"
#include "common/unique_fd.h"
#include "control/http/connection_limits.h"
#include "control/http/handler_pool.h"
#include "control/http/loop_options.h"
#include "control/http/site.h"
#include "control/http/tls_context.h"
#include "control/http/transport.h"

namespace cloudlink::control::http {

// What a plain-HTTP connection refused at a connection limit reads before its close: a 503
// with Retry-After (best effort: the socket is new, its send buffer empty). TLS ones are just
// closed (a handshake would cost what the limit saves).
const std::string& refused_connection_response();

class Connection {
 public:
  enum class Phase : uint8_t {
    kProxy,
    kHandshake,
    kHead,
    kBody,
    kHandling,
    kWriting,
    kIdle,
    kLinger,
    kDone
  };
  enum class Timer : uint8_t { kNone, kRequest, kWrite, kIdle, kLinger };

  // What the loop lends every connection; outlives them all.
  struct Env {
    const LoopOptions& options;
    const Site& site;
    TlsContext* tls;  // null: plain HTTP
    ConnectionLimits& limits;
  };

  static constexpr std::chrono::seconds kLingerTime{2};

  // fd: accepted, non-blocking. trusted: the peer is in --accept-proxy-from (a PROXY header
  // comes first). ticket: the peer's per-source place (empty for a trusted peer, which is
  // counted once its header names the client).
  Connection(const Env& env, UniqueFd fd, const SocketAddress& peer, bool trusted,
             ConnectionLimits::SourceTicket ticket);

  // Moves as far as the socket allows without blocking.
  void advance();
  // The current timer ran out.
  void on_deadline();
  // kHandling: the request to hand to a handler (once), and the handler's answer.
  Job take_request(uint64_t key);
  void deliver(Answer answer);

  Phase phase() const { return phase_; }
  Timer timer() const { return timer_; }
  // Changes whenever a timer (re)starts: the loop re-arms its deadline then.
  uint32_t timer_epoch() const { return timer_epoch_; }
  // advance() stopped at its read budget with bytes perhaps left: call it again soon.
  bool again() const { return again_; }
  // kDone before any request, for a reason worth counting ("bad_proxy", "per_source",
  // "tls_handshake"); null otherwise.
  const char* refused_reason() const { return refused_reason_; }
  int fd() const { return transport_.fd(); }

 private:
  using Clock = std::chrono::steady_clock;

  bool step_proxy();
  bool step_handshake();
  bool step_head(size_t& budget);
  bool step_body(size_t& budget);
  bool step_write();
  bool step_idle();
  bool step_linger(size_t& budget);

  // Reads up to want bytes onto in_; kDone with the count, or what stopped it.
  Io read_more(size_t want);
  bool head_may_be_complete();
  bool start_request(const cloudlink::http::HeadResult& head);
  // The loop's own answer to the current request (its bytes replace any pending output).
  void answer_error(int status, std::string_view message, bool linger);
  void refuse(const char* reason);
  void finish() { phase_ = Phase::kDone; }
  void set_timer(Timer timer);
  void observe();

  const Env& env_;
  Transport transport_;
  SocketAddress peer_;
  SocketAddress client_;
  bool trusted_;
  ConnectionLimits::SourceTicket ticket_;
  Phase phase_;
  Timer timer_ = Timer::kRequest;
  uint32_t timer_epoch_ = 1;
  bool again_ = false;
  bool proxy_checked_ = false;
  const char* refused_reason_ = nullptr;

  std::string in_;       // bytes read, not yet consumed by a request
  size_t scanned_ = 0;   // in_ bytes already searched for the blank line
  bool parsed_ = false;  // the current head was parsed at least once
  std::string out_;      // the answer being written
  size_t out_offset_ = 0;
  size_t served_ = 0;  // answers written on this connection

  // The current request.
  RawRequest request_;
  uint64_t body_length_ = 0;
  bool keep_alive_ = true;
  bool head_only_ = false;
  bool close_after_write_ = false;
  bool linger_after_write_ = false;
  std::string method_;  // as sent, for the metrics (empty before a head parsed)
  std::string route_;   // the metrics label
  std::string user_;    // the request log's user (from the handler's answer)
  int status_ = 0;
  Clock::time_point head_done_{};
};

}  // namespace cloudlink::control::http
