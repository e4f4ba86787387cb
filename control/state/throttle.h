// Failed-login throttling, in memory: per key (a username, a source address), after `free`
// failures in a row every further attempt must wait base * 2^(failures - free) seconds, capped,
// after the last failure. Thread-safe; bounded in size.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace cloudlink::state {

class LoginThrottle {
 public:
  LoginThrottle(unsigned free_failures, int64_t base_seconds, int64_t max_seconds)
      : free_(free_failures), base_(base_seconds), max_(max_seconds) {}

  // Seconds to wait before key may try again at time now; 0 when it may try now.
  int64_t wait_seconds(const std::string& key, int64_t now) const;
  void record_failure(const std::string& key, int64_t now);
  void reset(const std::string& key);

 private:
  struct Entry {
    unsigned failures = 0;
    int64_t last_failure = 0;
  };
  int64_t delay(unsigned failures) const;
  void prune(int64_t now);  // caller holds mutex_

  unsigned free_;
  int64_t base_;
  int64_t max_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace cloudlink::state
