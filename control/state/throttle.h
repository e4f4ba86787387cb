// Throttles kept in memory, per key (a username, a source address), each counting events in a
// sliding window so that a burst is forgotten once it is old: after W seconds without new
// events a key's count has decayed to nothing, whatever it was.
//
// The window is the usual two-bucket estimate (fixed buckets of W seconds aligned to the
// clock; the count is the current bucket plus the previous one weighted by how much of it
// still lies inside the last W seconds), so a key costs a few words, never a list of times.
// Every class here is thread-safe and bounded in size: past kMaxKeys tracked keys, keys whose
// count has decayed are dropped first, then the least recently seen.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace cloudlink::state {

class SlidingWindow {
 public:
  static constexpr size_t kMaxKeys = 100000;

  explicit SlidingWindow(int64_t window_seconds);

  // Events of key in the last window_seconds before now (an estimate, see above).
  double count(const std::string& key, int64_t now) const;
  // Adds one event at now; returns the new count.
  double add(const std::string& key, int64_t now);
  // The last event of key (0 when none is tracked).
  int64_t last(const std::string& key) const;
  void reset(const std::string& key);
  size_t tracked() const;
  int64_t window() const { return window_; }

 private:
  struct Entry {
    int64_t bucket = 0;  // now / window of the current bucket
    uint32_t current = 0;
    uint32_t previous = 0;
    int64_t last = 0;
  };
  static double estimate(const Entry& entry, int64_t now, int64_t window);
  void roll(Entry& entry, int64_t now) const;
  void make_room(int64_t now);  // caller holds mutex_

  int64_t window_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

// Failed logins: once a key has `free` failures in the window, every further attempt must
// wait base * 2^(failures - free) seconds (capped at max) after its last failure.
class LoginThrottle {
 public:
  LoginThrottle(unsigned free_failures, int64_t base_seconds, int64_t max_seconds,
                int64_t window_seconds)
      : free_(free_failures), base_(base_seconds), max_(max_seconds), failures_(window_seconds) {}

  // Seconds to wait before key may try again at time now; 0 when it may try now.
  int64_t wait_seconds(const std::string& key, int64_t now) const;
  void record_failure(const std::string& key, int64_t now);
  // A success: the key's failures are forgotten.
  void reset(const std::string& key) { failures_.reset(key); }
  // Failures counted in the window at now (whole ones).
  unsigned failures(const std::string& key, int64_t now) const;

 private:
  int64_t delay(unsigned failures) const;

  unsigned free_;
  int64_t base_;
  int64_t max_;
  SlidingWindow failures_;
};

// At most `limit` events per key in any window: acquire() counts one and says 0, or says how
// many seconds until one more fits (and counts nothing).
class RateLimit {
 public:
  RateLimit(unsigned limit, int64_t window_seconds) : limit_(limit), events_(window_seconds) {}

  int64_t acquire(const std::string& key, int64_t now);

 private:
  std::mutex mutex_;  // count and add as one step
  unsigned limit_;
  SlidingWindow events_;
};

}  // namespace cloudlink::state
