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
 * A redirect that fails (the peer is not in the map yet, or any more) returns
 * SK_PASS: the bytes are kept on the socket itself rather than dropped after
 * TCP has acknowledged them, and the failure is counted.
 */
#include <linux/bpf.h>
/* after linux/bpf.h, whose types it uses */
#include <bpf/bpf_helpers.h>

#include "sockmap_relay.h"

struct {
  __uint(type, BPF_MAP_TYPE_SOCKHASH);
  __uint(max_entries, 2); /* the loader sizes it before load */
  __type(key, struct sockmap_key);
  __type(value, sockmap_value);
} peer_socks SEC(".maps");

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

SEC("sk_skb/stream_verdict")
int cloudlink_stream_verdict(struct __sk_buff* skb) {
  struct sockmap_key key = {.cookie = bpf_get_socket_cookie(skb)};

  /* A FIN with no payload reaches the verdict as an empty skb. Redirected,
   * the peer's transmit worker would send 0 bytes, take that for a broken
   * pipe, set EPIPE on the peer and stop relaying to it. TCP has already
   * recorded the FIN (user space sees POLLRDHUP and passes it on with
   * shutdown()), so the empty skb carries nothing and is dropped.
   */
  if (skb->len == 0) return SK_DROP;
  /* flags 0: egress of the peer, i.e. the bytes are sent to its remote end */
  if (bpf_sk_redirect_hash(skb, &peer_socks, &key, 0) == SK_PASS) return SK_PASS;
  count(SOCKMAP_REDIRECT_FAILED);
  return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
