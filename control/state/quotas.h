// Per-user quotas: how many homes, mappings (across the user's homes) and tunnel port blocks
// a user may hold. Defaults come from control's settings; an admin may set a user's own
// values (each one separately, or back to the default). A change that would pass a quota is
// refused with conflict (409) naming it: `quota: homes (3) reached for alice`. The check runs
// in the same write transaction as the change, so concurrent requests cannot pass it
// together. Quotas bound what a user does with its own token; an admin acting for a user
// (API or CLI) is not held to them.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "control/state/lmdb.h"

namespace cloudlink::state {

struct Quota {
  uint32_t homes = 3;
  uint32_t mappings = 20;
  uint32_t port_blocks = 3;
};

// An admin's per-user values; an unset field follows the default.
struct QuotaOverride {
  std::optional<uint32_t> homes;
  std::optional<uint32_t> mappings;
  std::optional<uint32_t> port_blocks;

  bool empty() const { return !homes && !mappings && !port_blocks; }
};

struct QuotaUsage {
  uint32_t homes = 0;
  uint32_t mappings = 0;
  uint32_t port_blocks = 0;
};

// A user's quota as it applies: limits, what it uses, and which limits are its own.
struct QuotaView {
  std::string username;
  Quota limits;
  QuotaUsage used;
  QuotaOverride own;
};

inline constexpr uint32_t kMaxQuotaValue = 1'000'000;

Quota effective_quota(const Quota& defaults, const QuotaOverride& own);
// conflict("quota: WHAT (LIMIT) reached for USER")
Error quota_reached(std::string_view what, uint32_t limit, const std::string& username);

std::string encode(const QuotaOverride& own);
Result<QuotaOverride> decode_quota(std::string_view bytes);

// What owner holds now: its homes (homes db: id -> Home), their mappings (home_hosts db:
// home id '\0' hostname) and their port blocks (ports db: be16 first port -> block record).
Result<QuotaUsage> count_usage(const Txn& txn, MDB_dbi homes, MDB_dbi home_hosts, MDB_dbi ports,
                               const std::string& owner);

}  // namespace cloudlink::state
