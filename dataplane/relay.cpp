// What both relay modes share: starting the relay, passing a FIN on, and ending a flow.
#include <fcntl.h>
#include <sys/socket.h>

#include "dataplane/worker.h"

namespace cloudlink::dataplane {

void Worker::start_relay(uint32_t slot) {
  Connection& c = conn(slot);
  c.state = ConnState::kRelaying;
  c.last_active_ns = now_ns_;
  idle_deadlines_.push_back(slot, now_ns_ + int64_t{config_.idle_timeout.count()} * 1'000'000);
  if (config_.relay == RelayMode::kSockmap) {
    sockmap_start(slot);
  } else if (config_.relay == RelayMode::kSplice) {
    splice_start(slot);
  } else {
    copy_arm_recv(slot, kClientToTarget);
    copy_arm_recv(slot, kTargetToClient);
  }
}

void Worker::splice_start(uint32_t slot) {
  Connection& c = conn(slot);
  // splice(2) is called directly once poll says ready; non-blocking sockets keep a short read
  // or a full send buffer from ever blocking the worker.
  for (int fd : {c.client_fd, c.target_fd}) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  splice_arm_poll(slot, kClientToTarget, false);
  splice_arm_poll(slot, kTargetToClient, false);
}

// Called when direction d has seen EOF from its source and has nothing left to send: pass the
// FIN on (half-close), and end the flow once both directions are done.
void Worker::pass_on_eof(uint32_t slot, Dir d) {
  Connection& c = conn(slot);
  Direction& dir = c.dirs[d];
  if (!dir.shut) {
    ::shutdown(destination_fd(c, d), SHUT_WR);
    dir.shut = true;
  }
  if (c.dirs[kClientToTarget].shut && c.dirs[kTargetToClient].shut) {
    close_connection(slot, CloseResult::kOk);
  }
}

// A socket error on either side ends the flow; a reset is passed on as a reset.
void Worker::fail_flow(uint32_t slot, int err) {
  Connection& c = conn(slot);
  c.abort = true;
  const bool reset = err == ECONNRESET || err == EPIPE || err == ETIMEDOUT;
  close_connection(slot, reset ? CloseResult::kReset : CloseResult::kError);
}

}  // namespace cloudlink::dataplane
