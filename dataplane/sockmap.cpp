#include "dataplane/sockmap.h"

#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
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

std::unique_ptr<SockmapRelay> SockmapRelay::load(uint32_t, uint32_t, LoadError& why) {
  why = {SockmapFallback::kNotBuilt,
         Error(std::error_code(),
               "built without BPF (clang, bpftool or libbpf-dev missing, "
               "or -DCLOUDLINK_BPF=OFF)")};
  return nullptr;
}
Result<SockmapFlow> SockmapRelay::insert(int, int, const uint64_t[2], bool*) {
  return Error(EOPNOTSUPP, "no BPF");
}
void SockmapRelay::remove(const SockmapFlow&) {}
SockmapLane SockmapRelay::lane(const SockmapFlow&, int) const { return {}; }
void SockmapRelay::set_copied(const SockmapFlow&, int, uint64_t) {}
SockmapCounts SockmapRelay::take_counts() { return {}; }

#else

static_assert(sizeof(sockmap_key) == 8 && offsetof(sockmap_key, cookie) == 0);
static_assert(std::is_trivially_copyable_v<sockmap_key>);
static_assert(sizeof(sockmap_value) == 8);
static_assert(sizeof(sockmap_flow) == 56 && offsetof(sockmap_flow, redirected) == 0 &&
              offsetof(sockmap_flow, passed) == 8 && offsetof(sockmap_flow, paused) == 16 &&
              offsetof(sockmap_flow, overflow) == 20 && offsetof(sockmap_flow, cookie) == 24 &&
              offsetof(sockmap_flow, copied) == 32 && offsetof(sockmap_flow, written_base) == 40 &&
              offsetof(sockmap_flow, direction) == 48);
static_assert(std::is_trivially_copyable_v<sockmap_flow>);

// Move-only owner of the skeleton (object, programs, map fds); destroy() closes them all.
struct SockmapRelay::Skeleton {
  cloudlink_sockmap* skel = nullptr;
  explicit Skeleton(cloudlink_sockmap* s) : skel(s) {}
  ~Skeleton() { cloudlink_sockmap__destroy(skel); }
  Skeleton(const Skeleton&) = delete;
  Skeleton& operator=(const Skeleton&) = delete;
  int peer_socks() const { return bpf_map__fd(skel->maps.peer_socks); }
  int counters() const { return bpf_map__fd(skel->maps.counters); }
  int flow_index() const { return bpf_map__fd(skel->maps.flow_index); }
  int flows() const { return bpf_map__fd(skel->maps.flows); }
};

SockmapRelay::SockmapRelay(std::unique_ptr<Skeleton> skel) : skel_(std::move(skel)) {}
SockmapRelay::~SockmapRelay() {
  if (flows_ != nullptr) ::munmap(flows_, flows_bytes_);
}

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

// tcp_rmem's third field: what receive buffer autotuning may grow a socket's to.
uint64_t largest_receive_buffer() {
  constexpr uint64_t kDefault = 6 << 20;  // the kernel's default tcp_rmem max
  FILE* f = std::fopen("/proc/sys/net/ipv4/tcp_rmem", "re");
  if (f == nullptr) return kDefault;
  unsigned long long low = 0, initial = 0, high = 0;
  const int n = std::fscanf(f, "%llu %llu %llu", &low, &initial, &high);
  std::fclose(f);
  return n == 3 && high > 0 ? high : kDefault;
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

std::unique_ptr<SockmapRelay> SockmapRelay::load(uint32_t max_flows, uint32_t backlog_bytes,
                                                 LoadError& why) {
  libbpf_set_print(quiet_libbpf);
  auto fail = [&why](SockmapFallback reason, int err, const char* what) {
    why = {reason, Error(err, what)};
    return nullptr;
  };
  cloudlink_sockmap* raw = cloudlink_sockmap__open();
  if (raw == nullptr) return fail(classify(errno, false), errno, "open BPF object");
  auto skel = std::make_unique<Skeleton>(raw);
  // Two entries per flow (one per socket or direction), and two for the start-up probe.
  const uint32_t entries = max_flows * 2 + 2;
  for (bpf_map* map : {raw->maps.peer_socks, raw->maps.flow_index, raw->maps.flows}) {
    if (int rc = bpf_map__set_max_entries(map, entries); rc != 0) {
      return fail(SockmapFallback::kError, -rc, "size the maps");
    }
  }
  raw->rodata->backlog_budget = backlog_bytes;
  raw->rodata->lane_cap = 2 * largest_receive_buffer() + backlog_bytes + kSockmapLaneBytes;
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
  relay->flows_bytes_ = sizeof(sockmap_flow) * entries;
  void* flows = ::mmap(nullptr, relay->flows_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED,
                       relay->skel_->flows(), 0);
  if (flows == MAP_FAILED) return fail(SockmapFallback::kError, errno, "mmap the flows array");
  relay->flows_ = flows;
  relay->free_indexes_.reserve(entries);
  for (uint32_t i = entries; i > 0; --i) relay->free_indexes_.push_back(i - 1);
  auto pair = loopback_pair();
  if (!pair) return fail(SockmapFallback::kError, pair.error().value(), "probe sockets");
  const uint64_t bases[2] = {0, 0};
  auto flow = relay->insert(pair->first.get(), pair->second.get(), bases);
  if (!flow) {
    return fail(SockmapFallback::kInsert, flow.error().value(), "put a TCP socket in the sockhash");
  }
  relay->remove(*flow);
  return relay;
}

namespace {

sockmap_flow& flow_at(void* flows, uint32_t index) {
  return static_cast<sockmap_flow*>(flows)[index];
}

// The program reads these fields while user space writes them: one aligned 8-byte store each.
void store(__u64& field, uint64_t value) {
  std::atomic_ref<__u64>(field).store(value, std::memory_order_release);
}
uint64_t load_field(__u64& field) {
  return std::atomic_ref<__u64>(field).load(std::memory_order_acquire);
}

}  // namespace

Result<SockmapFlow> SockmapRelay::insert(int client_fd, int target_fd,
                                         const uint64_t written_base[2], bool* touched) {
  if (touched != nullptr) *touched = false;
  auto client = socket_cookie(client_fd);
  if (!client) return client.error();
  auto target = socket_cookie(target_fd);
  if (!target) return target.error();
  SockmapFlow flow{*client, *target};
  {
    std::lock_guard lock(mutex_);
    if (free_indexes_.size() < 2) return Error(ENOSPC, "sockmap flows array full");
    for (uint32_t& index : flow.index) {
      index = free_indexes_.back();
      free_indexes_.pop_back();
    }
  }
  const sockmap_key client_key{flow.client_cookie};
  const sockmap_key target_key{flow.target_cookie};
  // Each direction's state first, named by its source socket's cookie, so the program finds it
  // for the very first skb once the socket is in peer_socks.
  const sockmap_key* sources[2] = {&client_key, &target_key};
  for (int d = 0; d < 2; ++d) {
    sockmap_flow& f = flow_at(flows_, flow.index[d]);
    store(f.redirected, 0);
    store(f.passed, 0);
    f.paused = 0;
    f.overflow = 0;
    store(f.copied, 0);
    store(f.written_base, written_base[d]);
    f.direction = static_cast<uint32_t>(d);
    store(f.cookie, sources[d]->cookie);
    if (bpf_map_update_elem(skel_->flow_index(), sources[d], &flow.index[d], BPF_ANY) != 0) {
      Error e = errno_error("flow_index insert");
      remove(flow);
      return e;
    }
  }
  const sockmap_value client_value = static_cast<sockmap_value>(client_fd);
  const sockmap_value target_value = static_cast<sockmap_value>(target_fd);
  // The client socket goes under the target's cookie: bytes from the target find it.
  if (bpf_map_update_elem(skel_->peer_socks(), &target_key, &client_value, BPF_NOEXIST) != 0) {
    Error e = errno_error("sockhash insert (client)");
    remove(flow);
    return e;
  }
  if (touched != nullptr) *touched = true;
  if (bpf_map_update_elem(skel_->peer_socks(), &client_key, &target_value, BPF_NOEXIST) != 0) {
    Error e = errno_error("sockhash insert (target)");
    // Typically the target's FIN arrived since the caller checked it was established. With
    // the client out of the map again, no verdict runs for it any more: if the program neither
    // redirected nor passed anything of it meanwhile, no byte was taken off it, and the flow can
    // still be relayed another way. (Passed bytes would be lost with the client's psock.)
    const sockmap_key client_entry = target_key;
    bpf_map_delete_elem(skel_->peer_socks(), &client_entry);
    const SockmapLane client_lane = lane(flow, 0);
    if (touched != nullptr && client_lane.passed == 0 && client_lane.redirected == 0) {
      *touched = false;
    }
    remove(flow);
    return e;
  }
  return flow;
}

void SockmapRelay::remove(const SockmapFlow& flow) {
  const sockmap_key keys[] = {{flow.client_cookie}, {flow.target_cookie}};
  for (const sockmap_key& key : keys) bpf_map_delete_elem(skel_->peer_socks(), &key);
  for (const sockmap_key& key : keys) bpf_map_delete_elem(skel_->flow_index(), &key);
  std::lock_guard lock(mutex_);
  for (uint32_t index : flow.index) {
    // A verdict already past its flow_index lookup checks the cookie before using the entry.
    store(flow_at(flows_, index).cookie, 0);
    free_indexes_.push_back(index);
  }
}

SockmapLane SockmapRelay::lane(const SockmapFlow& flow, int d) const {
  sockmap_flow& f = flow_at(flows_, flow.index[d]);
  return {load_field(f.redirected), load_field(f.passed),
          std::atomic_ref<__u32>(f.overflow).load(std::memory_order_acquire) != 0};
}

void SockmapRelay::set_copied(const SockmapFlow& flow, int d, uint64_t copied) {
  store(flow_at(flows_, flow.index[d]).copied, copied);
}

SockmapCounts SockmapRelay::take_counts() {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return {};
  std::vector<uint64_t> values(static_cast<size_t>(cpus));
  uint64_t totals[SOCKMAP_COUNTER_MAX] = {};
  for (uint32_t slot = 0; slot < SOCKMAP_COUNTER_MAX; ++slot) {
    if (bpf_map_lookup_elem(skel_->counters(), &slot, values.data()) != 0) return {};
    for (uint64_t v : values) totals[slot] += v;
  }
  static_assert(SOCKMAP_COUNTER_MAX == sizeof(reported_) / sizeof(reported_[0]));
  uint64_t fresh[SOCKMAP_COUNTER_MAX] = {};
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < SOCKMAP_COUNTER_MAX; ++i) {
    fresh[i] = totals[i] > reported_[i] ? totals[i] - reported_[i] : 0;
    reported_[i] = std::max(reported_[i], totals[i]);
  }
  return {fresh[SOCKMAP_REDIRECT_FAILED],
          {fresh[SOCKMAP_BACKPRESSURE_C2T], fresh[SOCKMAP_BACKPRESSURE_T2C]}};
}

#endif

}  // namespace cloudlink::dataplane
