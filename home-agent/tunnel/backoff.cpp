#include "home-agent/tunnel/backoff.h"

#include <algorithm>

namespace cloudlink::home {

Backoff::Backoff(std::chrono::milliseconds first, std::chrono::milliseconds cap, unsigned seed)
    : first_(first), cap_(cap), random_(seed) {}

std::chrono::milliseconds Backoff::next() {
  long long base = first_.count();
  for (int i = 0; i < attempt_ && base < cap_.count(); ++i) base *= 2;
  base = std::min(base, static_cast<long long>(cap_.count()));
  if (attempt_ < 32) ++attempt_;
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  auto delay = static_cast<long long>(static_cast<double>(base) * jitter(random_));
  return std::chrono::milliseconds(std::min(delay, static_cast<long long>(cap_.count())));
}

}  // namespace cloudlink::home
