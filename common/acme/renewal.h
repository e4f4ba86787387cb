// When a certificate is ordered again (control's own, cloudlink-home's), and how long a
// failed order waits: pure functions of what the current certificate says and the clock, so a
// test can drive them.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "common/acme/certificate_info.h"

namespace cloudlink::acme {

// When to order a certificate for hostname, given the current one (nullopt: none that
// parses). Now (or earlier) when there is none, it is self-issued (the placeholder written at
// the first start), it does not cover hostname, or it has expired; otherwise at two thirds of
// its lifetime (Let's Encrypt's 90 days: after 60).
SystemTime renewal_time(const std::optional<CertificateInfo>& current, std::string_view hostname);

struct Backoff {
  std::chrono::seconds first{60};
  std::chrono::seconds max{6 * 3600};
};

// The wait before attempt failures + 1 after `failures` failures in a row (>= 1): first, then
// doubling, capped at max. No jitter here: the caller adds it.
std::chrono::seconds retry_delay(const Backoff& backoff, unsigned failures);

// delay plus up to a tenth more, so agents that failed together do not retry together.
std::chrono::seconds with_jitter(std::chrono::seconds delay);

}  // namespace cloudlink::acme
