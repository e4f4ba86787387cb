#include "control/state/throttle.h"

#include <algorithm>

namespace cloudlink::state {
namespace {
// Past this many tracked keys, entries whose delay has run out are dropped, so a spray of
// sources cannot grow the map without bound.
constexpr size_t kPruneAbove = 100000;
}  // namespace

int64_t LoginThrottle::delay(unsigned failures) const {
  if (failures < free_) return 0;
  unsigned doublings = std::min(failures - free_, 30u);
  return std::min(max_, base_ << doublings);
}

int64_t LoginThrottle::wait_seconds(const std::string& key, int64_t now) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return 0;
  int64_t until = it->second.last_failure + delay(it->second.failures);
  return until > now ? until - now : 0;
}

void LoginThrottle::record_failure(const std::string& key, int64_t now) {
  std::lock_guard lock(mutex_);
  if (entries_.size() > kPruneAbove) prune(now);
  Entry& entry = entries_[key];
  entry.failures++;
  entry.last_failure = now;
}

void LoginThrottle::reset(const std::string& key) {
  std::lock_guard lock(mutex_);
  entries_.erase(key);
}

void LoginThrottle::prune(int64_t now) {
  std::erase_if(entries_, [&](const auto& item) { return now - item.second.last_failure > max_; });
}

}  // namespace cloudlink::state
