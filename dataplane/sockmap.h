// The sockmap relay's kernel side, seen from user space: the loaded BPF program and its maps
// (bpf/sockmap_relay.bpf.c), owned by one move-only object. Loading is the start-up probe: it
// either returns a ready relay or an Error whose reason says why the dataplane falls back.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>

#include "common/result.h"

namespace cloudlink::dataplane {

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

// The two cookies (SO_COOKIE) that name a flow's entries in the sockhash.
struct SockmapFlow {
  uint64_t client_cookie = 0;
  uint64_t target_cookie = 0;
};

class SockmapRelay {
 public:
  struct LoadError {
    SockmapFallback reason;
    Error error;
  };

  // Opens, sizes (max_flows flows, two entries each), loads and attaches the program, then
  // checks a throwaway loopback TCP pair can enter and leave the sockhash.
  static std::unique_ptr<SockmapRelay> load(uint32_t max_flows, LoadError& why);
  ~SockmapRelay();
  SockmapRelay(const SockmapRelay&) = delete;
  SockmapRelay& operator=(const SockmapRelay&) = delete;

  // Puts both established sockets in the sockhash, crosswise (each under the other's cookie),
  // so the kernel relays bytes from each to the other. Client first: it is the side that is
  // quiet while a TLS server answers the ClientHello. On error, nothing is left in the map;
  // *touched says whether the client socket was in it for a moment (its bytes of that moment
  // may be gone with it), or not (the flow can still be relayed another way). A socket that is
  // not ESTABLISHED (a client that already sent its FIN) is refused with EOPNOTSUPP.
  Result<SockmapFlow> insert(int client_fd, int target_fd, bool* touched = nullptr);
  // Removes a flow's entries (absent entries are fine: closing a socket removes it too).
  void remove(const SockmapFlow& flow);
  // Failed redirects counted by the program since the previous call (all CPUs).
  uint64_t take_redirect_failures();

 private:
  struct Skeleton;
  explicit SockmapRelay(std::unique_ptr<Skeleton> skel);
  std::unique_ptr<Skeleton> skel_;
  std::mutex counters_mutex_;
  uint64_t failures_reported_ = 0;
};

}  // namespace cloudlink::dataplane
