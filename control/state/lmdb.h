// Small RAII layer over LMDB for the state environment: a move-only environment with named
// databases, and transactions that abort unless committed.
//
// The map grows when it fills: Env::write runs its body in a write transaction, and when LMDB
// answers MDB_MAP_FULL (a put, or the commit) it drops the transaction, doubles the map (up
// to MapLimits::max_bytes) and runs the body again from the start, so a full map costs a
// retry, never a lost or half-written change. mdb_env_set_mapsize needs every transaction of
// this process on the environment closed: each Txn holds the environment's gate shared, the
// growth takes it exclusively. A Txn must not be opened while the same thread holds another
// on the same environment (the gate is not re-entrant under a waiting grower).
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>

#include "common/lmdb_map.h"
#include "common/result.h"

namespace cloudlink::state {

Error mdb_error(int rc, const std::string& what);

// LMDB's default key size limit (mdb_env_get_maxkeysize of a default build).
inline constexpr size_t kMaxKeyBytes = 511;

class Txn {
 public:
  Txn() = default;
  Txn(Txn&& other) noexcept
      : gate_(std::move(other.gate_)), txn_(std::exchange(other.txn_, nullptr)) {}
  Txn& operator=(Txn&& other) noexcept;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn() { abort(); }

  MDB_txn* get() const { return txn_; }
  Result<void> commit();  // the txn is gone afterwards, committed or not
  void abort();

  // nullopt when the key is absent (an empty key, or one longer than LMDB allows, is absent).
  Result<std::optional<std::string>> get(MDB_dbi dbi, std::string_view key) const;
  Result<void> put(MDB_dbi dbi, std::string_view key, std::string_view value);
  // MDB_NOOVERWRITE: false (and nothing written) when the key exists.
  Result<bool> insert(MDB_dbi dbi, std::string_view key, std::string_view value);
  Result<bool> del(MDB_dbi dbi, std::string_view key);  // false when absent
  // Calls visit(key, value) in key order from the first key >= from; visit returns false to stop.
  Result<void> scan(MDB_dbi dbi, std::string_view from,
                    const std::function<bool(std::string_view, std::string_view)>& visit) const;
  // The last key/value of the database, nullopt when empty.
  Result<std::optional<std::pair<std::string, std::string>>> last(MDB_dbi dbi) const;
  // The number of records in dbi.
  Result<size_t> entries(MDB_dbi dbi) const;

 private:
  friend class Env;
  Txn(MDB_txn* txn, std::shared_lock<std::shared_mutex> gate) : gate_(std::move(gate)), txn_(txn) {}
  std::shared_lock<std::shared_mutex> gate_;
  MDB_txn* txn_ = nullptr;
};

class Env {
 public:
  // Opens (creating when writable) the environment in directory dir with up to max_dbs named
  // databases. mode is the files' permission bits. The map starts at limits.initial_bytes, or
  // at what the environment recorded when that is larger (it never shrinks under the data),
  // capped at limits.max_bytes.
  static Result<Env> open(const std::string& dir, bool writable, unsigned max_dbs, mdb_mode_t mode,
                          MapLimits limits = {});
  Env(Env&&) noexcept;
  Env& operator=(Env&&) noexcept;
  ~Env();

  Result<Txn> begin(bool write) const;
  // Runs body(Txn&) -> Result<T> in a write transaction and commits it; on MDB_MAP_FULL grows
  // the map and runs body again (see above). A map already at its maximum is a storage_full
  // error naming the limit.
  template <typename T, typename F>
  Result<T> write(F&& body) const;

  // Opens (creating in a writable env) a named database; call before any other txn.
  Result<MDB_dbi> open_db(const char* name);
  MDB_env* get() const;
  MapUsage usage() const;

 private:
  struct Shared;
  explicit Env(std::unique_ptr<Shared> shared);
  size_t map_bytes() const;
  // Doubles the map unless another thread already grew it past seen_map_bytes.
  Result<void> grow(size_t seen_map_bytes) const;
  // Adopts a larger map another process recorded (MDB_MAP_RESIZED).
  Result<void> adopt() const;
  std::unique_ptr<Shared> shared_;
};

template <typename T, typename F>
Result<T> Env::write(F&& body) const {
  while (true) {
    auto txn = begin(true);
    if (!txn) return txn.error();
    size_t seen = map_bytes();  // stable while the gate is held
    Result<T> result = body(*txn);
    if (result) {
      auto committed = txn->commit();
      if (committed) return result;
      if (!is_map_full(committed.error())) return committed.error();
    } else if (!is_map_full(result.error())) {
      return result;
    }
    txn->abort();
    if (auto grown = grow(seen); !grown) return grown.error();
  }
}

}  // namespace cloudlink::state
