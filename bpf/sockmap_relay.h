/* The one definition of what the sockmap relay's BPF program and its loader
 * (dataplane/sockmap.cpp) share: map keys, values and counter slots. Fixed-size
 * __u32/__u64 types only, no implicit padding; the loader static_asserts the layout.
 */
#ifndef CLOUDLINK_BPF_SOCKMAP_RELAY_H
#define CLOUDLINK_BPF_SOCKMAP_RELAY_H

#include <linux/types.h>

/* Key of the peer_socks sockhash. A flow's two sockets are stored crosswise:
 * the target socket under the client socket's cookie, the client socket under
 * the target socket's cookie. A socket's own cookie (bpf_get_socket_cookie)
 * therefore finds the socket its bytes go to, in one lookup and one map.
 */
struct sockmap_key {
  __u64 cookie;
};

/* Value written by user space into peer_socks: the socket's fd, widened to
 * 64 bits so the same map can hand back a cookie on lookup.
 */
typedef __u64 sockmap_value;

/* Slots of the per-CPU counters array, read by the loader at scrape time. */
enum sockmap_counter {
  SOCKMAP_REDIRECT_FAILED = 0, /* no peer in the map, or the redirect failed */
  SOCKMAP_COUNTER_MAX,
};

#endif /* CLOUDLINK_BPF_SOCKMAP_RELAY_H */
