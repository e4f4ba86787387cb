#include "dataplane/sockmap.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <type_traits>
#include <vector>

#include "common/unique_fd.h"

#if CLOUDLINK_HAVE_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/sockmap_relay.h"
#include "bpf/sockmap_relay.skel.h"
#endif

namespace cloudlink::dataplane {

namespace {
constexpr const char* kFallbackNames[] = {"not_built",   "permission", "verifier",
                                          "unsupported", "insert",     "error"};
static_assert(std::size(kFallbackNames) == static_cast<size_t>(SockmapFallback::kCount));
}  // namespace

const char* sockmap_fallback_name(SockmapFallback reason) {
  return kFallbackNames[static_cast<size_t>(reason)];
}

#if !CLOUDLINK_HAVE_BPF

struct SockmapRelay::Skeleton {};
SockmapRelay::SockmapRelay(std::unique_ptr<Skeleton> skel) : skel_(std::move(skel)) {}
SockmapRelay::~SockmapRelay() = default;

std::unique_ptr<SockmapRelay> SockmapRelay::load(uint32_t, LoadError& why) {
  why = {SockmapFallback::kNotBuilt,
         Error(std::error_code(),
               "built without BPF (clang, bpftool or libbpf-dev missing, "
               "or -DCLOUDLINK_BPF=OFF)")};
  return nullptr;
}
Result<SockmapFlow> SockmapRelay::insert(int, int, bool*) { return Error(EOPNOTSUPP, "no BPF"); }
void SockmapRelay::remove(const SockmapFlow&) {}
uint64_t SockmapRelay::take_redirect_failures() { return 0; }

#else

static_assert(sizeof(sockmap_key) == 8 && offsetof(sockmap_key, cookie) == 0);
static_assert(std::is_trivially_copyable_v<sockmap_key>);
static_assert(sizeof(sockmap_value) == 8);

// Move-only owner of the skeleton (object, programs, map fds); destroy() closes them all.
struct SockmapRelay::Skeleton {
  cloudlink_sockmap* skel = nullptr;
  explicit Skeleton(cloudlink_sockmap* s) : skel(s) {}
  ~Skeleton() { cloudlink_sockmap__destroy(skel); }
  Skeleton(const Skeleton&) = delete;
  Skeleton& operator=(const Skeleton&) = delete;
  int peer_socks() const { return bpf_map__fd(skel->maps.peer_socks); }
  int counters() const { return bpf_map__fd(skel->maps.counters); }
};

SockmapRelay::SockmapRelay(std::unique_ptr<Skeleton> skel) : skel_(std::move(skel)) {}
SockmapRelay::~SockmapRelay() = default;

namespace {

// The kernel's internal ENOTSUPP (not in the uapi errno list) leaks out of some BPF paths.
constexpr int kKernelEnotsupp = 524;

SockmapFallback classify(int err, bool loading) {
  if (err == EPERM) return SockmapFallback::kPermission;
  if (err == EACCES) return loading ? SockmapFallback::kVerifier : SockmapFallback::kPermission;
  // EINVAL from a program load is the verifier (or a program type it does not know).
  if (err == EINVAL && loading) return SockmapFallback::kVerifier;
  if (err == EINVAL || err == EOPNOTSUPP || err == kKernelEnotsupp || err == E2BIG) {
    return SockmapFallback::kUnsupported;
  }
  return SockmapFallback::kError;
}

// libbpf prints to stderr by default; a failed probe is reported as one line by the caller.
int quiet_libbpf(libbpf_print_level, const char*, va_list) { return 0; }

Result<uint64_t> socket_cookie(int fd) {
  uint64_t cookie = 0;
  socklen_t len = sizeof cookie;
  if (::getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) != 0) {
    return errno_error("SO_COOKIE");
  }
  return cookie;
}

// A connected loopback TCP pair for the start-up probe; a sockhash only takes TCP sockets
// that are established (or listening).
Result<std::pair<UniqueFd, UniqueFd>> loopback_pair() {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener) return errno_error("probe socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(listener.get(), 1) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return errno_error("probe listener");
  }
  UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!client || ::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    return errno_error("probe connect");
  }
  UniqueFd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!server) return errno_error("probe accept");
  return std::make_pair(std::move(client), std::move(server));
}

}  // namespace

std::unique_ptr<SockmapRelay> SockmapRelay::load(uint32_t max_flows, LoadError& why) {
  libbpf_set_print(quiet_libbpf);
  auto fail = [&why](SockmapFallback reason, int err, const char* what) {
    why = {reason, Error(err, what)};
    return nullptr;
  };
  cloudlink_sockmap* raw = cloudlink_sockmap__open();
  if (raw == nullptr) return fail(classify(errno, false), errno, "open BPF object");
  auto skel = std::make_unique<Skeleton>(raw);
  if (int rc = bpf_map__set_max_entries(raw->maps.peer_socks, max_flows * 2); rc != 0) {
    return fail(SockmapFallback::kError, -rc, "size sockhash");
  }
  // Map creation comes first inside load: a failure there is about privileges or map types;
  // the program load afterwards is where the verifier speaks. libbpf does not say which step
  // failed, so a throwaway sockhash tells them apart.
  const int probe_map = bpf_map_create(BPF_MAP_TYPE_SOCKHASH, nullptr, sizeof(sockmap_key),
                                       sizeof(sockmap_value), 1, nullptr);
  if (probe_map < 0) return fail(classify(errno, false), errno, "create a sockhash");
  ::close(probe_map);
  if (int rc = cloudlink_sockmap__load(raw); rc != 0) {
    return fail(classify(-rc, true), -rc, "load the sk_skb verdict program (verifier)");
  }
  if (bpf_prog_attach(bpf_program__fd(raw->progs.cloudlink_stream_verdict), skel->peer_socks(),
                      BPF_SK_SKB_STREAM_VERDICT, 0) != 0) {
    return fail(classify(errno, false), errno, "attach the stream verdict to the sockhash");
  }
  std::unique_ptr<SockmapRelay> relay(new SockmapRelay(std::move(skel)));
  auto pair = loopback_pair();
  if (!pair) return fail(SockmapFallback::kError, pair.error().value(), "probe sockets");
  auto flow = relay->insert(pair->first.get(), pair->second.get());
  if (!flow) {
    return fail(SockmapFallback::kInsert, flow.error().value(), "put a TCP socket in the sockhash");
  }
  relay->remove(*flow);
  return relay;
}

Result<SockmapFlow> SockmapRelay::insert(int client_fd, int target_fd, bool* touched) {
  if (touched != nullptr) *touched = false;
  auto client = socket_cookie(client_fd);
  if (!client) return client.error();
  auto target = socket_cookie(target_fd);
  if (!target) return target.error();
  SockmapFlow flow{*client, *target};
  const sockmap_key client_key{flow.client_cookie};
  const sockmap_key target_key{flow.target_cookie};
  const sockmap_value client_value = static_cast<sockmap_value>(client_fd);
  const sockmap_value target_value = static_cast<sockmap_value>(target_fd);
  // The client socket goes under the target's cookie: bytes from the target find it.
  if (bpf_map_update_elem(skel_->peer_socks(), &target_key, &client_value, BPF_NOEXIST) != 0) {
    return errno_error("sockhash insert (client)");
  }
  if (touched != nullptr) *touched = true;
  if (bpf_map_update_elem(skel_->peer_socks(), &client_key, &target_value, BPF_NOEXIST) != 0) {
    Error e = errno_error("sockhash insert (target)");
    bpf_map_delete_elem(skel_->peer_socks(), &target_key);
    return e;
  }
  return flow;
}

void SockmapRelay::remove(const SockmapFlow& flow) {
  const sockmap_key keys[] = {{flow.client_cookie}, {flow.target_cookie}};
  for (const sockmap_key& key : keys) bpf_map_delete_elem(skel_->peer_socks(), &key);
}

uint64_t SockmapRelay::take_redirect_failures() {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return 0;
  std::vector<uint64_t> values(static_cast<size_t>(cpus));
  const uint32_t slot = SOCKMAP_REDIRECT_FAILED;
  if (bpf_map_lookup_elem(skel_->counters(), &slot, values.data()) != 0) return 0;
  uint64_t total = 0;
  for (uint64_t v : values) total += v;
  std::lock_guard lock(counters_mutex_);
  const uint64_t fresh = total > failures_reported_ ? total - failures_reported_ : 0;
  failures_reported_ = std::max(failures_reported_, total);
  return fresh;
}

#endif

}  // namespace cloudlink::dataplane
