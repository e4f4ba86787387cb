/* The one definition of what the sockmap relay's BPF program and its loader
 * (dataplane/sockmap.cpp) share: map keys, values and counter slots. Fixed-size
 * __u32/__u64 types only, no implicit padding; the loader static_asserts the layout.
 */
#ifndef CLOUDLINK_BPF_SOCKMAP_RELAY_H
#define CLOUDLINK_BPF_SOCKMAP_RELAY_H

#include <linux/types.h>

/* Key of the peer_socks sockhash and of the flow_index hash. A
 * flow's two sockets are stored crosswise in peer_socks: the target socket
 * under the client socket's cookie, the client socket under the target
 * socket's cookie. A socket's own cookie (bpf_get_socket_cookie) therefore
 * finds the socket its bytes go to, in one lookup and one map. In flow_index
 * a cookie names one direction: the bytes read from that socket.
 */
struct sockmap_key {
  __u64 cookie;
};

/* Value written by user space into peer_socks: the socket's fd, widened to
 * 64 bits so the same map can hand back a cookie on lookup.
 */
typedef __u64 sockmap_value;

/* One direction of a flow (the bytes read from one socket), in the mmapable
 * flows array at the index flow_index gives for the source socket's cookie.
 * Each field has one writer: the first three the verdict program (the verdict
 * of one socket runs under that socket's lock, so one at a time), the rest
 * user space, which writes them through its mmap of the array. User space
 * zeroes the entry before the socket enters peer_socks.
 */
struct sockmap_flow {
  /* written by the program */
  __u64 redirected; /* bytes redirected into the peer's egress queue */
  __u64 passed;     /* bytes left on the source (SK_PASS) for user space to copy */
  __u32 paused;     /* 1 while over budget: not redirected (counts each move) */
  __u32 overflow;   /* 1 once the copy lane outgrew lane_cap: user space resets the flow */
  /* written by user space */
  __u64 cookie;       /* the source socket's cookie: a stale index is never used */
  __u64 copied;       /* passed bytes user space has read and fully sent to the peer */
  __u64 written_base; /* the peer's bytes written (acked + unsent) at insertion */
  __u32 direction;    /* 0 client -> target, 1 target -> client (counter slot) */
  __u32 pad1;
};

/* Slots of the per-CPU counters array, read by the loader at scrape time. */
enum sockmap_counter {
  SOCKMAP_REDIRECT_FAILED = 0,  /* no peer in the map, or the redirect failed */
  SOCKMAP_BACKPRESSURE_C2T = 1, /* client -> target moved from redirect to copy */
  SOCKMAP_BACKPRESSURE_T2C = 2, /* target -> client moved from redirect to copy */
  SOCKMAP_COUNTER_MAX,
};

#endif /* CLOUDLINK_BPF_SOCKMAP_RELAY_H */
