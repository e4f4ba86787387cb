// One forwarded connection: bytes between an SSH channel (the VPS side) and a TCP socket to
// the home's service, both ways, without blocking, honouring half-close: the channel's EOF
// becomes shutdown(SHUT_WR) on the target, the target's FIN becomes the channel's EOF, and
// the other direction keeps flowing until it ends too.
#pragma once

#include <poll.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common/unique_fd.h"
#include "home-agent/tunnel/ssh_handles.h"

namespace cloudlink::home {

class Pump {
 public:
  enum class Progress { kIdle, kMoved, kDone };

  Pump(SshChannel channel, UniqueFd target);
  ~Pump();
  Pump(const Pump&) = delete;
  Pump& operator=(const Pump&) = delete;

  // Moves what can move now. kDone: both directions ended (or one failed); drop the pump.
  // in/out grow by the bytes delivered to the target and to the channel.
  Progress step(uint64_t* in, uint64_t* out);

  int target_fd() const { return target_.get(); }
  // The poll events the target socket needs for the next step.
  short target_events() const;
  // Why the pump ended early ("" when it ended normally).
  const std::string& error() const { return error_; }

 private:
  static constexpr size_t kChunk = 64 * 1024;

  bool channel_to_target(uint64_t* in, bool* moved);
  bool target_to_channel(uint64_t* out, bool* moved);

  SshChannel channel_;
  UniqueFd target_;
  std::unique_ptr<char[]> to_target_;  // read from the channel, not yet sent
  size_t to_target_length_ = 0;
  size_t to_target_offset_ = 0;
  std::unique_ptr<char[]> to_channel_;  // read from the target, not yet written
  size_t to_channel_length_ = 0;
  size_t to_channel_offset_ = 0;
  bool channel_eof_ = false;  // the VPS side finished sending
  bool target_shut_ = false;  // ...and the target has been told (SHUT_WR)
  bool target_eof_ = false;   // the service finished sending
  bool eof_sent_ = false;     // ...and the channel has been told (EOF)
  std::string error_;
};

}  // namespace cloudlink::home
