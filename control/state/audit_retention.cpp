#include "control/state/audit_retention.h"

#include <string>
#include <vector>

#include "control/state/records.h"

namespace cloudlink::state {

Result<size_t> prune_audit(Txn& txn, MDB_dbi dbi, const AuditRetention& retention, int64_t now,
                           size_t max_batch) {
  auto count = txn.entries(dbi);
  if (!count) return count.error();
  size_t over_count = retention.max_records != 0 && *count > retention.max_records
                          ? *count - retention.max_records
                          : 0;
  const bool by_age = retention.max_age_seconds > 0;
  if (over_count == 0 && !by_age) return size_t{0};
  std::vector<std::string> doomed;
  auto scanned = txn.scan(dbi, {}, [&](std::string_view key, std::string_view value) {
    if (doomed.size() >= max_batch) return false;
    if (doomed.size() < over_count) {
      doomed.emplace_back(key);
      return true;
    }
    if (!by_age) return false;
    auto record = decode_audit(key, value);
    // A record that does not decode has no age to judge: keep it and stop, like at the first
    // record young enough (those after it are newer).
    if (!record || record->at >= now - retention.max_age_seconds) return false;
    doomed.emplace_back(key);
    return true;
  });
  if (!scanned) return scanned.error();
  for (const std::string& key : doomed) {
    if (auto d = txn.del(dbi, key); !d) return d.error();
  }
  return doomed.size();
}

}  // namespace cloudlink::state
