// The copy relay: recv into a provided buffer (the kernel picks one only when data arrives),
// send it on, recycle it. Up to CopyQueue::kDepth buffers per direction are in flight, so a
// slow reader stalls its own flow (back-pressure) and holds a bounded amount of memory.
#include "dataplane/worker.h"

namespace cloudlink::dataplane {

void Worker::copy_arm_recv(uint32_t slot, Dir d) {
  Connection& c = conn(slot);
  Direction& dir = c.dirs[d];
  if (dir.recv_armed || dir.eof || dir.starved || dir.queue.full()) return;
  io_uring_sqe* sqe = submit(Op::kCopyRecv, slot, d);
  io_uring_prep_recv(sqe, source_fd(c, d), nullptr, buffers_->buffer_size(), 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffers_->group_id();
  dir.recv_armed = true;
}

void Worker::on_copy_recv(uint32_t slot, Dir d, int res, unsigned flags) {
  Connection& c = conn(slot);
  Direction& dir = c.dirs[d];
  dir.recv_armed = false;
  if (res > 0) {
    const auto buffer_id = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
    buffers_->note_taken();
    dir.queue.push({buffer_id, static_cast<uint32_t>(res)});
    c.last_active_ns = now_ns_;
    if (!dir.send_armed) copy_send(slot, d);
    copy_arm_recv(slot, d);
    return;
  }
  if (res == 0) {
    dir.eof = true;
    if (dir.queue.size == 0) pass_on_eof(slot, d);
    return;
  }
  if (res == -ENOBUFS) {
    // Every buffer of this worker is in flight: wait for one to be recycled (back-pressure,
    // not an error).
    dir.starved = true;
    starved_.push_back({slot, c.generation, d});
    return;
  }
  fail_flow(slot, -res);
}

void Worker::copy_send(uint32_t slot, Dir d) {
  Connection& c = conn(slot);
  Direction& dir = c.dirs[d];
  const CopyQueue::Entry& e = dir.queue.front();
  io_uring_sqe* sqe = submit(Op::kCopySend, slot, d);
  io_uring_prep_send(sqe, destination_fd(c, d), buffers_->data(e.buffer_id) + dir.queue.sent,
                     e.length - dir.queue.sent, MSG_NOSIGNAL);
  dir.send_armed = true;
}

void Worker::on_copy_send(uint32_t slot, Dir d, int res) {
  Connection& c = conn(slot);
  Direction& dir = c.dirs[d];
  dir.send_armed = false;
  if (res < 0) {
    fail_flow(slot, -res);
    return;
  }
  c.last_active_ns = now_ns_;
  dir.queue.sent += static_cast<uint32_t>(res);
  if (dir.queue.sent == dir.queue.front().length) {
    buffers_->recycle(dir.queue.front().buffer_id);
    dir.queue.pop();
    wake_starved();
  }
  if (dir.queue.size > 0) {
    copy_send(slot, d);
  } else if (dir.eof) {
    pass_on_eof(slot, d);
    return;
  }
  copy_arm_recv(slot, d);
}

void Worker::copy_release_buffers(Connection& c) {
  if (!buffers_) return;
  for (Direction& dir : c.dirs) {
    while (dir.queue.size > 0) {
      buffers_->recycle(dir.queue.front().buffer_id);
      dir.queue.pop();
    }
  }
}

// One recycled buffer can feed one starved flow; it re-arms its recv and, if another flow took
// the buffer first, goes back on the list.
void Worker::wake_starved() {
  while (!starved_.empty()) {
    const Starved s = starved_.front();
    starved_.pop_front();
    if (s.slot >= conns_.size()) continue;
    Connection& c = conn(s.slot);
    if (c.generation != s.generation || c.state != ConnState::kRelaying) continue;
    c.dirs[s.dir].starved = false;
    copy_arm_recv(s.slot, s.dir);
    return;
  }
}

}  // namespace cloudlink::dataplane
