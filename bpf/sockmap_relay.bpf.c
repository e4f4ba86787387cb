// SPDX-License-Identifier: GPL-2.0
/* cloudlink's in-kernel relay: an sk_skb stream verdict program on a sockhash.
 *
 * Why sk_skb stream_verdict and not sk_msg: the relay moves bytes that arrive
 * from the network (ingress of each socket) to the other socket's egress.
 * sk_msg runs on sendmsg() of a local writer, which the dataplane never is
 * once a flow is in the map. A verdict program with no stream parser sees
 * every skb as it is queued (kernel 5.x+ verdict-only mode, no strparser
 * framing or its extra copy), and bpf_sk_redirect_hash() sends it out of the
 * peer socket.
 *
 * Why a sockhash keyed by socket cookie, stored crosswise (see
 * sockmap_relay.h): the cookie is unique for the socket's life and never
 * reused, so a stale key can never redirect into another flow's socket; the
 * crosswise layout needs no second map to find the peer.
 *
 * Why a backlog budget: a redirected skb leaves the source's receive queue
 * (and its memory accounting, so TCP opens the window again) and waits on the
 * peer's psock queue until the peer's send buffer takes it. Nothing limits
 * that queue: behind a reader that never reads, a client pushed 1.6 GB into
 * it in 3 s. So each direction counts the bytes it redirected, and the peer's
 * tcp_sock says how many of them reached its write queue (bytes_acked +
 * write_seq - snd_una, the same sum user space reads with TCP_INFO and
 * SIOCOUTQ). When more than backlog_budget bytes would wait outside the peer's
 * send buffer, the skb is passed (SK_PASS): it stays on the source socket,
 * charged to its receive buffer, so the receive window closes as it does for
 * any slow reader. User space sees it readable and copies it over (the "copy
 * lane"), and every later skb follows it into that lane until user space has
 * sent all it was given (passed == copied), so bytes never overtake each
 * other. The next skb after that is redirected again if the backlog is under
 * budget.
 *
 * A redirect that fails (the peer is not in the map any more) also goes to
 * the copy lane: the bytes are kept, never dropped after TCP acknowledged
 * them, and the failure is counted.
 */
#include <linux/bpf.h>
/* after linux/bpf.h, whose types it uses */
#include <bpf/bpf_helpers.h>

#include "sockmap_relay.h"

#define READ_ONCE(x) (*(const volatile __typeof__(x)*)&(x))

/* The fields read from the peer socket; CO-RE (libbpf) relocates their
 * offsets against the running kernel's BTF at load time.
 */
struct tcp_sock {
  __u64 bytes_acked;
  __u32 snd_una;
  __u32 write_seq;
} __attribute__((preserve_access_index));

/* Bytes of one direction allowed to wait outside the peer's send buffer; the
 * loader sets it before load (kSockmapBacklogBytes, dataplane/sockmap.h).
 */
const volatile __u32 backlog_budget = 256 * 1024;

/* Most bytes one direction may have passed and user space not yet sent on. A
 * passed skb is charged to the source's receive buffer, so this stays under
 * its size, except in one case: the kernel queues a passed skb behind the
 * source's own psock queue when that is not empty, uncharged, and it is not
 * empty while the other direction's redirected bytes wait there for a send
 * buffer. With both readers stalled and both writers pushing, that queue
 * would grow without limit; past lane_cap the program drops instead and user
 * space resets the flow (the peer sees the bytes before the gap, then a
 * reset: never a stream with a hole in it). The loader sets it to twice the
 * largest receive buffer (tcp_rmem) plus the budget and the lane's buffer.
 */
const volatile __u64 lane_cap = 64 << 20;

struct {
  __uint(type, BPF_MAP_TYPE_SOCKHASH);
  __uint(max_entries, 2); /* the loader sizes it before load */
  __type(key, struct sockmap_key);
  __type(value, sockmap_value);
} peer_socks SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 2); /* the loader sizes it before load */
  __type(key, struct sockmap_key);
  __type(value, __u32);
} flow_index SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 2); /* the loader sizes it before load */
  __uint(map_flags, BPF_F_MMAPABLE);
  __type(key, __u32);
  __type(value, struct sockmap_flow);
} flows SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, SOCKMAP_COUNTER_MAX);
  __type(key, __u32);
  __type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 slot) {
  __u64* value = bpf_map_lookup_elem(&counters, &slot);

  if (value) *value += 1;
}

/* Bytes this direction redirected (or user space copied) that have not yet
 * reached the peer's write queue: what waits on the peer's psock queue.
 */
static __always_inline __s64 backlog(struct sockmap_key* key, struct sockmap_flow* f) {
  struct bpf_sock* peer = bpf_map_lookup_elem(&peer_socks, key);
  struct tcp_sock* tp;
  __u64 written;

  if (!peer) return 0; /* the redirect fails and counts it */
  tp = bpf_skc_to_tcp_sock(peer);
  if (!tp) {
    bpf_sk_release(peer);
    return 0;
  }
  written = tp->bytes_acked + (__u32)(tp->write_seq - tp->snd_una);
  bpf_sk_release(peer);
  return (__s64)(f->redirected + READ_ONCE(f->copied)) - (__s64)(written - f->written_base);
}

static __always_inline int pass(struct sockmap_flow* f, __u32 len) {
  if (f->passed + len - READ_ONCE(f->copied) > lane_cap) {
    f->overflow = 1;
    return SK_DROP;
  }
  f->passed += len;
  return SK_PASS;
}

SEC("sk_skb/stream_verdict")
int cloudlink_stream_verdict(struct __sk_buff* skb) {
  struct sockmap_key key = {.cookie = bpf_get_socket_cookie(skb)};
  struct sockmap_flow* f;
  __u32 len = skb->len;
  __u32* index;

  /* A FIN with no payload reaches the verdict as an empty skb. Redirected,
   * the peer's transmit worker would send 0 bytes, take that for a broken
   * pipe, set EPIPE on the peer and stop relaying to it. TCP has already
   * recorded the FIN (user space sees POLLRDHUP and passes it on with
   * shutdown()), so the empty skb carries nothing and is dropped.
   */
  if (len == 0) return SK_DROP;
  index = bpf_map_lookup_elem(&flow_index, &key);
  f = index ? bpf_map_lookup_elem(&flows, index) : 0;
  if (!f || READ_ONCE(f->cookie) != key.cookie) {
    /* user space fills both before the socket enters peer_socks */
    count(SOCKMAP_REDIRECT_FAILED);
    return SK_PASS;
  }
  /* a flow past lane_cap keeps nothing more: it is being reset */
  if (f->overflow) return SK_DROP;
  /* bytes still in the copy lane go first */
  if (f->passed != READ_ONCE(f->copied)) return pass(f, len);
  if (backlog(&key, f) + len > backlog_budget) {
    if (!f->paused) {
      f->paused = 1;
      count(f->direction ? SOCKMAP_BACKPRESSURE_T2C : SOCKMAP_BACKPRESSURE_C2T);
    }
    return pass(f, len);
  }
  /* flags 0: egress of the peer, i.e. the bytes are sent to its remote end */
  if (bpf_sk_redirect_hash(skb, &peer_socks, &key, 0) != SK_PASS) {
    count(SOCKMAP_REDIRECT_FAILED);
    return pass(f, len);
  }
  f->redirected += len;
  f->paused = 0;
  return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
