// One client connection's state: a small explicit state machine
//   kReadingHello -> kConnecting -> kSendingPreamble -> kRelaying -> kClosing
// (kReadingHello -> kRejecting -> kClosing when it cannot be routed).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "common/hostname.h"
#include "common/route_record.h"
#include "common/socket_address.h"
#include "dataplane/close_result.h"
#include "dataplane/pipe_pool.h"
#include "dataplane/sockmap.h"

namespace cloudlink::dataplane {

enum class ConnState : uint8_t {
  kFree,
  kReadingHello,
  kRejecting,  // sending a TLS alert, then close
  kConnecting,
  kSendingPreamble,
  kRelaying,
  kClosing,  // waiting for in-flight operations to complete before the slot is freed
};

// The two directions of a relayed flow.
enum Dir : uint8_t { kClientToTarget = 0, kTargetToClient = 1 };

// Copy relay: filled provided buffers waiting to be sent, in arrival order.
struct CopyQueue {
  static constexpr uint8_t kDepth = 4;
  struct Entry {
    uint16_t buffer_id;
    uint32_t length;
  };
  std::array<Entry, kDepth> entries{};
  uint8_t head = 0;
  uint8_t size = 0;
  uint32_t sent = 0;  // bytes of the head entry already sent
  Entry& front() { return entries[head]; }
  void push(Entry e) { entries[(head + size++) % kDepth] = e; }
  void pop() {
    head = (head + 1) % kDepth;
    --size;
    sent = 0;
  }
  bool full() const { return size == kDepth; }
};

struct Direction {
  bool eof = false;              // source sent FIN (or recv ended)
  bool shut = false;             // FIN passed on: shutdown(SHUT_WR) of the destination
  bool recv_armed = false;       // copy: a recv is in flight
  bool send_armed = false;       // copy: a send is in flight
  bool starved = false;          // copy: recv got ENOBUFS; waiting for a free buffer
  bool poll_in_armed = false;    // splice: POLLIN on the source in flight; sockmap: its watch
  bool retry_armed = false;      // sockmap: a timer to re-check a FIN waiting for bytes in flight
  uint8_t retries = 0;           // sockmap: how often that FIN has waited (sets the backoff)
  bool poll_out_armed = false;   // splice: POLLOUT on the destination in flight
  bool lane_send_armed = false;  // sockmap: a send of copy-lane bytes in flight
  uint32_t lane_length = 0;      // sockmap: bytes in lane_buffer being sent
  uint32_t lane_sent = 0;        // sockmap: of those, already sent
  uint64_t lane_copied = 0;      // sockmap: bytes the copy lane has sent in all
  std::unique_ptr<uint8_t[]> lane_buffer;  // sockmap: allocated the first time the lane is used
  CopyQueue queue;
  Pipe pipe;  // splice: borrowed while bytes are in it
  uint32_t in_pipe = 0;
};

struct Connection {
  ConnState state = ConnState::kFree;
  uint16_t generation = 0;
  uint16_t inflight = 0;        // submitted operations not yet completed
  bool http = false;            // accepted on an HTTP listener: routed by Host, not SNI
  bool proxy_expected = false;  // from a trusted load balancer: a PROXY header comes first
  int client_fd = -1;
  int target_fd = -1;
  bool abort = false;  // close with RST (SO_LINGER 0) instead of FIN
  CloseResult result = CloseResult::kOk;

  SocketAddress client_addr;
  SocketAddress local_addr;
  int64_t accepted_ns = 0;
  int64_t last_active_ns = 0;
  int64_t connect_started_ns = 0;

  // Hello phase: a buffer from the worker's hello pool; kHelloHeadroom bytes are kept in front
  // so a PROXY header can be written right before the ClientHello and both go in one send.
  std::unique_ptr<uint8_t[]> hello;
  uint32_t hello_length = 0;    // ClientHello bytes received (after the headroom)
  uint32_t preamble_start = 0;  // first byte of the preamble within hello
  uint32_t preamble_end = 0;
  uint8_t alert_sent = 0;

  char sni[kMaxHostnameLength];
  uint8_t sni_length = 0;
  Route route;
  uint32_t tried_targets = 0;   // bit i: target i was tried
  SocketAddress target;         // the connected (or being connected) target
  bool target_counted = false;  // connecting or connected: counted in TargetLoads

  std::array<Direction, 2> dirs;

  // Sockmap relay: the flow's entries, and per direction what user space moved itself before
  // the kernel took over (bytes read from the source, the destination's bytes written), so
  // "everything received has been written" can be checked from TCP_INFO alone.
  bool in_sockmap = false;
  SockmapFlow sockmap_flow;
  std::array<uint64_t, 2> sockmap_consumed{};
  std::array<uint64_t, 2> sockmap_written_base{};

  std::string_view sni_view() const { return {sni, sni_length}; }
  // The targets a connect may pick from: the route's TLS targets, or its one HTTP target.
  std::span<const SocketAddress> connect_targets() const {
    if (!http) return route.targets();
    if (route.http_target.empty()) return {};
    return {&route.http_target, 1};
  }
};

}  // namespace cloudlink::dataplane
