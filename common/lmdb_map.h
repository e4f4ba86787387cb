// What control's two LMDB environments (state, routes) share about their memory maps: LMDB's
// return codes as errors that keep the code (so MDB_MAP_FULL can be told from a disk error),
// the map's limits, and how full it is.
//
// The map is address space, not disk: the data file grows with the data. A map that fills
// is grown (doubled, up to max_bytes) by the process that writes; mdb_env_set_mapsize needs
// no transaction of that process open on the environment, so each owner gates its
// transactions with a shared/exclusive lock and grows under the exclusive side.
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>

#include "common/result.h"

namespace cloudlink {

// LMDB's own (negative) return codes, MDB_KEYEXIST .. MDB_LAST_ERRCODE.
const std::error_category& lmdb_category();

// An Error for an LMDB return code: errno values (> 0) stay errno, LMDB's own codes keep their
// value in lmdb_category(), with LMDB's text.
Error lmdb_error(int rc, const std::string& what);
bool is_map_full(const Error& error);

struct MapLimits {
  static constexpr size_t kDefaultInitial = size_t{1} << 30;  // 1 GiB
  static constexpr size_t kDefaultMax = size_t{64} << 30;     // 64 GiB
  // The smallest map that is ever set: LMDB needs a few pages for its meta data.
  static constexpr size_t kMinimum = size_t{64} << 10;

  size_t initial_bytes = kDefaultInitial;
  size_t max_bytes = kDefaultMax;
};

struct MapUsage {
  size_t map_bytes = 0;   // the map now
  size_t used_bytes = 0;  // pages in use up to the highest written, as the file's data
  size_t max_bytes = 0;   // the configured maximum the map may grow to
  uint64_t growths = 0;   // times this process grew the map
};

// The map size after `current` filled: twice it, at most max_bytes; 0 when current is
// already at (or over) max_bytes.
size_t next_map_size(size_t current, size_t max_bytes);

// map_bytes and used_bytes of an open environment (mdb_env_info and mdb_env_stat; the used
// pages are those up to the last page of the newest committed meta).
MapUsage map_usage(MDB_env* env);

}  // namespace cloudlink
