#include "common/lmdb_map.h"

#include <algorithm>

namespace cloudlink {
namespace {

class LmdbCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "lmdb"; }
  std::string message(int value) const override { return mdb_strerror(value); }
};

}  // namespace

const std::error_category& lmdb_category() {
  static const LmdbCategory category;
  return category;
}

Error lmdb_error(int rc, const std::string& what) {
  if (rc > 0) return Error(rc, what);
  return Error(std::error_code(rc, lmdb_category()), what);
}

bool is_map_full(const Error& error) {
  return error.code() == std::error_code(MDB_MAP_FULL, lmdb_category());
}

size_t next_map_size(size_t current, size_t max_bytes) {
  if (current >= max_bytes) return 0;
  size_t doubled = current > max_bytes / 2 ? max_bytes : current * 2;
  return std::max(doubled, std::min(max_bytes, MapLimits::kMinimum));
}

MapUsage map_usage(MDB_env* env) {
  MapUsage usage;
  MDB_envinfo info{};
  MDB_stat stat{};
  if (mdb_env_info(env, &info) != 0 || mdb_env_stat(env, &stat) != 0) return usage;
  usage.map_bytes = info.me_mapsize;
  usage.used_bytes = (info.me_last_pgno + 1) * size_t{stat.ms_psize};
  return usage;
}

}  // namespace cloudlink
