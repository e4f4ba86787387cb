#include "home-agent/tunnel/pump.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace cloudlink::home {

Pump::Pump(SshChannel channel, UniqueFd target)
    : channel_(std::move(channel)),
      target_(std::move(target)),
      to_target_(new char[kChunk]),
      to_channel_(new char[kChunk]) {}

Pump::~Pump() {
  // Close (not just free) so the server sees CHANNEL_CLOSE even when we stop early.
  if (channel_ && !ssh_channel_is_closed(channel_.get())) ssh_channel_close(channel_.get());
}

bool Pump::channel_to_target(uint64_t* in, bool* moved) {
  while (true) {
    if (to_target_offset_ < to_target_length_) {
      ssize_t n = ::send(target_.get(), to_target_.get() + to_target_offset_,
                         to_target_length_ - to_target_offset_, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return true;  // the service reads slowly: wait for POLLOUT
        error_ = std::string("send to the service: ") + std::strerror(errno);
        return false;
      }
      to_target_offset_ += static_cast<size_t>(n);
      *in += static_cast<uint64_t>(n);
      *moved = true;
      continue;
    }
    if (channel_eof_) {
      if (!target_shut_) {
        ::shutdown(target_.get(), SHUT_WR);
        target_shut_ = true;
        *moved = true;
      }
      return true;
    }
    int n = ssh_channel_read_nonblocking(channel_.get(), to_target_.get(), kChunk, 0);
    if (n == SSH_EOF || (n == 0 && ssh_channel_is_eof(channel_.get()))) {
      channel_eof_ = true;
      continue;
    }
    if (n < 0) {
      error_ = "channel read failed";
      return false;
    }
    if (n == 0) return true;
    to_target_length_ = static_cast<size_t>(n);
    to_target_offset_ = 0;
  }
}

bool Pump::target_to_channel(uint64_t* out, bool* moved) {
  while (true) {
    if (to_channel_offset_ < to_channel_length_) {
      int n = ssh_channel_write(channel_.get(), to_channel_.get() + to_channel_offset_,
                                static_cast<uint32_t>(to_channel_length_ - to_channel_offset_));
      if (n == SSH_ERROR) {
        error_ = "channel write failed";
        return false;
      }
      if (n == 0) return true;  // the server's window is full: wait for it to grow
      to_channel_offset_ += static_cast<size_t>(n);
      *out += static_cast<uint64_t>(n);
      *moved = true;
      continue;
    }
    if (target_eof_) {
      if (!eof_sent_) {
        ssh_channel_send_eof(channel_.get());
        eof_sent_ = true;
        *moved = true;
      }
      return true;
    }
    uint32_t window = ssh_channel_window_size(channel_.get());
    if (window == 0) return true;
    ssize_t n = ::recv(target_.get(), to_channel_.get(), std::min<size_t>(kChunk, window), 0);
    if (n == 0) {
      target_eof_ = true;
      continue;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return true;
      error_ = std::string("recv from the service: ") + std::strerror(errno);
      return false;
    }
    to_channel_length_ = static_cast<size_t>(n);
    to_channel_offset_ = 0;
  }
}

Pump::Progress Pump::step(uint64_t* in, uint64_t* out) {
  bool moved = false;
  if (!channel_to_target(in, &moved) || !target_to_channel(out, &moved)) return Progress::kDone;
  if (target_shut_ && eof_sent_) return Progress::kDone;
  // The server closed the channel (its client reset, or the session is going away): nothing
  // more can be sent either way.
  if (ssh_channel_is_closed(channel_.get())) return Progress::kDone;
  return moved ? Progress::kMoved : Progress::kIdle;
}

short Pump::target_events() const {
  short events = 0;
  if (to_target_offset_ < to_target_length_) events |= POLLOUT;
  if (!target_eof_ && to_channel_offset_ >= to_channel_length_ &&
      ssh_channel_window_size(channel_.get()) > 0) {
    events |= POLLIN;
  }
  return events;
}

}  // namespace cloudlink::home
