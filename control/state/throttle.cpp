#include "control/state/throttle.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace cloudlink::state {

SlidingWindow::SlidingWindow(int64_t window_seconds)
    : window_(std::max<int64_t>(window_seconds, 1)) {}

double SlidingWindow::estimate(const Entry& entry, int64_t now, int64_t window) {
  int64_t bucket = now / window;
  if (bucket >= entry.bucket + 2) return 0;
  if (bucket == entry.bucket + 1) {
    // The entry's current bucket is now the previous one.
    double inside = static_cast<double>(window - now % window) / static_cast<double>(window);
    return entry.current * inside;
  }
  double inside = static_cast<double>(window - now % window) / static_cast<double>(window);
  return entry.current + entry.previous * inside;
}

void SlidingWindow::roll(Entry& entry, int64_t now) const {
  int64_t bucket = now / window_;
  if (bucket <= entry.bucket) return;  // same bucket, or a clock that stepped back
  entry.previous = bucket == entry.bucket + 1 ? entry.current : 0;
  entry.current = 0;
  entry.bucket = bucket;
}

double SlidingWindow::count(const std::string& key, int64_t now) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  return it == entries_.end() ? 0 : estimate(it->second, now, window_);
}

double SlidingWindow::add(const std::string& key, int64_t now) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= kMaxKeys) make_room(now);
    it = entries_.emplace(key, Entry{now / window_, 0, 0, now}).first;
  }
  Entry& entry = it->second;
  roll(entry, now);
  if (entry.current < UINT32_MAX) entry.current++;
  entry.last = std::max(entry.last, now);
  return estimate(entry, now, window_);
}

int64_t SlidingWindow::last(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  return it == entries_.end() ? 0 : it->second.last;
}

void SlidingWindow::reset(const std::string& key) {
  std::lock_guard lock(mutex_);
  entries_.erase(key);
}

size_t SlidingWindow::tracked() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void SlidingWindow::make_room(int64_t now) {
  std::erase_if(entries_,
                [&](const auto& item) { return estimate(item.second, now, window_) == 0; });
  if (entries_.size() < kMaxKeys) return;
  // Still full of live keys (a spray of sources): drop the tenth seen longest ago. Forgetting
  // a key only ever lets it try sooner, never locks anyone out.
  std::vector<int64_t> lasts;
  lasts.reserve(entries_.size());
  for (const auto& item : entries_) lasts.push_back(item.second.last);
  auto cut = lasts.begin() + static_cast<std::ptrdiff_t>(lasts.size() / 10);
  std::nth_element(lasts.begin(), cut, lasts.end());
  int64_t oldest_kept = *cut;
  std::erase_if(entries_, [&](const auto& item) { return item.second.last < oldest_kept; });
  if (entries_.size() >= kMaxKeys) entries_.erase(entries_.begin());
}

int64_t LoginThrottle::delay(unsigned failures) const {
  if (failures < free_) return 0;
  unsigned doublings = std::min(failures - free_, 30u);
  return std::min(max_, base_ << doublings);
}

unsigned LoginThrottle::failures(const std::string& key, int64_t now) const {
  // Rounded, not floored: just after a bucket boundary the previous bucket weighs 899/900,
  // and five failures a second old must still count as five.
  return static_cast<unsigned>(std::lround(failures_.count(key, now)));
}

int64_t LoginThrottle::wait_seconds(const std::string& key, int64_t now) const {
  int64_t wait = delay(failures(key, now));
  if (wait == 0) return 0;
  int64_t until = failures_.last(key) + wait;
  return until > now ? until - now : 0;
}

void LoginThrottle::record_failure(const std::string& key, int64_t now) { failures_.add(key, now); }

int64_t RateLimit::acquire(const std::string& key, int64_t now) {
  std::lock_guard lock(mutex_);
  if (events_.count(key, now) + 1 <= limit_ + 1e-9) {
    events_.add(key, now);
    return 0;
  }
  // The count only falls while no event comes (the previous bucket slides out, then the
  // current one): find the first second at which one more fits.
  auto fits = [&](int64_t wait) { return events_.count(key, now + wait) + 1 <= limit_ + 1e-9; };
  int64_t low = 1;
  int64_t high = 2 * events_.window();
  while (low < high) {
    int64_t mid = low + (high - low) / 2;
    if (fits(mid)) {
      high = mid;
    } else {
      low = mid + 1;
    }
  }
  return low;
}

}  // namespace cloudlink::state
