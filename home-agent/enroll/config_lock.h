// Serialises the commands that read cloudlink.yaml, call the control API and write the file
// back (expose, unexpose): two at once would pick the same free tunnel ports, and the second
// write would drop the first one's service. The lock is flock() on the config's folder (the
// file itself is replaced by rename, so a lock on it would not outlive a write); it is
// released when the ConfigLock is destroyed or the process exits.
#pragma once

#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace cloudlink::home {

class ConfigLock {
 public:
  // Waits until no other holder of the same folder's lock is left.
  static Result<ConfigLock> acquire(const std::string& config_path);

 private:
  explicit ConfigLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace cloudlink::home
