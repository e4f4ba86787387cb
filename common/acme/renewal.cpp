#include "common/acme/renewal.h"

#include <algorithm>
#include <random>

namespace cloudlink::acme {

SystemTime renewal_time(const std::optional<CertificateInfo>& current, std::string_view hostname) {
  if (!current || current->self_issued || !current->covers(hostname) ||
      current->not_after <= current->not_before) {
    return SystemTime::min();
  }
  const auto lifetime = current->not_after - current->not_before;
  return current->not_before + lifetime * 2 / 3;
}

std::chrono::seconds retry_delay(const Backoff& backoff, unsigned failures) {
  std::chrono::seconds delay = backoff.first;
  for (unsigned i = 1; i < failures && delay < backoff.max; ++i) delay *= 2;
  return std::min(delay, backoff.max);
}

std::chrono::seconds with_jitter(std::chrono::seconds delay) {
  static thread_local std::minstd_rand random(std::random_device{}());
  const auto spread = delay.count() / 10;
  if (spread <= 0) return delay;
  return delay + std::chrono::seconds(random() % (spread + 1));
}

}  // namespace cloudlink::acme
