#include "control/acme/renewal.h"

#include <algorithm>

namespace cloudlink::control::acme {

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

}  // namespace cloudlink::control::acme
