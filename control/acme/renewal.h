// control's names for the renewal rules it shares with cloudlink-home (common/acme/renewal.h).
#pragma once

#include "common/acme/renewal.h"

namespace cloudlink::control::acme {

using cloudlink::acme::Backoff;
using cloudlink::acme::CertificateInfo;
using cloudlink::acme::renewal_time;
using cloudlink::acme::retry_delay;
using cloudlink::acme::SystemTime;
using cloudlink::acme::with_jitter;

}  // namespace cloudlink::control::acme
