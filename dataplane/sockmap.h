// The sockmap relay's kernel side, seen from user space: the loaded BPF program and its maps
// (bpf/sockmap_relay.bpf.c), owned by one move-only object. Loading is the start-up probe: it
// either returns a ready relay or an Error whose reason says why the dataplane falls back.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "common/result.h"

namespace cloudlink::dataplane {

// Per direction, the most bytes the kernel may hold redirected but not yet in the destination's
// send buffer (where socket memory accounting applies again). Redirected skbs wait on the
// destination's psock queue, which nothing else limits; past this budget the verdict program
// leaves bytes on the source socket, whose receive window then closes as for any slow reader,
// and user space copies them (bpf/sockmap_relay.bpf.c). 256 KiB costs a stalled flow no more
// than a copy relay's 4 x 64 KiB buffers; 1 and 4 MiB did not make bulk transfers measurably
// faster on the (busy) benchmark machine, and the bound is what matters here.
constexpr uint32_t kSockmapBacklogBytes = 256 * 1024;
// Read size of the copy lane (one buffer per direction in user space, allocated on first use).
constexpr uint32_t kSockmapLaneBytes = 64 * 1024;

// Why --relay sockmap could not be used; one label value of cloudlink_sockmap_fallbacks_total.
enum class SockmapFallback : uint8_t {
  kNotBuilt,     // built without -DCLOUDLINK_BPF=ON
  kPermission,   // no CAP_BPF / CAP_NET_ADMIN (EPERM, EACCES)
  kVerifier,     // the verifier rejected the program
  kUnsupported,  // the kernel lacks the program or map type (EINVAL, EOPNOTSUPP on create)
  kInsert,       // a probe socket could not be put into the sockhash
  kError,        // anything else
  kCount
};
const char* sockmap_fallback_name(SockmapFallback reason);

// The two cookies (SO_COOKIE) that name a flow's entries in the sockhash, and the indexes of
// its two directions (client -> target, target -> client) in the shared flows array.
struct SockmapFlow {
  uint64_t client_cookie = 0;
  uint64_t target_cookie = 0;
  uint32_t index[2] = {0, 0};
};

// One direction's counters as the BPF program keeps them (bpf/sockmap_relay.h).
struct SockmapLane {
  uint64_t redirected = 0;  // bytes the kernel redirected to the destination
  uint64_t passed = 0;      // bytes left on the source for user space to copy (the copy lane)
  bool overflow = false;    // the lane outgrew its cap (both readers stalled): reset the flow
};

// What the program counted since the previous call, summed over all CPUs.
struct SockmapCounts {
  uint64_t redirect_failures = 0;
  uint64_t backpressure[2] = {0, 0};  // moves from redirect to copy, per direction
};

class SockmapRelay {
 public:
  struct LoadError {
    SockmapFallback reason;
    Error error;
  };

  // Opens, sizes (max_flows flows, two entries each), loads and attaches the program, then
  // checks a throwaway loopback TCP pair can enter and leave the sockhash. backlog_bytes is the
  // budget per direction of bytes redirected but not yet in the destination's send buffer.
  static std::unique_ptr<SockmapRelay> load(uint32_t max_flows, uint32_t backlog_bytes,
                                            LoadError& why);
  ~SockmapRelay();
  SockmapRelay(const SockmapRelay&) = delete;
  SockmapRelay& operator=(const SockmapRelay&) = delete;

  // Puts both established sockets in the sockhash, crosswise (each under the other's cookie),
  // so the kernel relays bytes from each to the other. written_base[d] is the destination of
  // direction d's bytes written so far (TCP_INFO bytes_acked + SIOCOUTQ). Client first: it is the
  // side that is quiet while a TLS server answers the ClientHello. On error, nothing is left in the
  // map; *touched says whether bytes of the client socket may be gone with its moment in the map
  // (the program redirected or passed some), or not (the flow can still be relayed another way). A
  // socket that is not ESTABLISHED (a client that already sent its FIN) is refused with EOPNOTSUPP.
  Result<SockmapFlow> insert(int client_fd, int target_fd, const uint64_t written_base[2],
                             bool* touched = nullptr);
  // Removes a flow's entries (absent entries are fine: closing a socket removes it too).
  void remove(const SockmapFlow& flow);
  // Direction d's counters as the program left them (a lock-free read of shared memory).
  SockmapLane lane(const SockmapFlow& flow, int d) const;
  // Tells the program user space has sent `copied` passed bytes of direction d in total.
  void set_copied(const SockmapFlow& flow, int d, uint64_t copied);
  // What the program counted since the previous call.
  SockmapCounts take_counts();

 private:
  struct Skeleton;
  explicit SockmapRelay(std::unique_ptr<Skeleton> skel);
  std::unique_ptr<Skeleton> skel_;
  std::mutex mutex_;  // the counters below and the free flows indexes
  uint64_t reported_[3] = {0, 0, 0};
  std::vector<uint32_t> free_indexes_;
  void* flows_ = nullptr;  // the mmapped flows array
  size_t flows_bytes_ = 0;
};

}  // namespace cloudlink::dataplane
