// How long the audit log is kept: at most max_records records and none older than
// max_age_seconds (0 turns either bound off). Pruning deletes the oldest records first, in
// bounded batches, so no write transaction grows with the size of the backlog: each audited
// change removes a few (kInlineBatch) in its own transaction, and the maintenance pass
// (StateStore::maintain) removes the rest, kMaintenanceBatch per transaction.
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <cstdint>

#include "common/result.h"
#include "control/state/lmdb.h"

namespace cloudlink::state {

struct AuditRetention {
  static constexpr size_t kInlineBatch = 8;
  static constexpr size_t kMaintenanceBatch = 1000;

  uint64_t max_records = 1'000'000;
  int64_t max_age_seconds = 365 * 24 * 3600;
};

// Deletes, oldest first, up to max_batch records of the audit database dbi that are beyond
// retention at now (be64 sequence keys, records with an "at" time). Returns how many went.
Result<size_t> prune_audit(Txn& txn, MDB_dbi dbi, const AuditRetention& retention, int64_t now,
                           size_t max_batch);

}  // namespace cloudlink::state
