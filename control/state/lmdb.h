// Small RAII layer over LMDB for the state environment: a move-only environment with named
// databases, and transactions that abort unless committed.
#pragma once

#include <lmdb.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/result.h"

namespace cloudlink::state {

Error mdb_error(int rc, const std::string& what);

class Txn {
 public:
  Txn() = default;
  Txn(Txn&& other) noexcept : txn_(std::exchange(other.txn_, nullptr)) {}
  Txn& operator=(Txn&& other) noexcept;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  ~Txn() { abort(); }

  MDB_txn* get() const { return txn_; }
  Result<void> commit();  // the txn is gone afterwards, committed or not
  void abort();

  // nullopt when the key is absent.
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

 private:
  friend class Env;
  explicit Txn(MDB_txn* txn) : txn_(txn) {}
  MDB_txn* txn_ = nullptr;
};

class Env {
 public:
  // Opens (creating when writable) the environment in directory dir with up to max_dbs named
  // databases. mode is the files' permission bits.
  static Result<Env> open(const std::string& dir, bool writable, unsigned max_dbs, mdb_mode_t mode);
  Env(Env&&) noexcept = default;
  Env& operator=(Env&&) noexcept = default;

  Result<Txn> begin(bool write) const;
  // Opens (creating in a writable env) a named database; call before any other txn.
  Result<MDB_dbi> open_db(const char* name);
  MDB_env* get() const { return env_.get(); }

 private:
  struct Deleter {
    void operator()(MDB_env* env) const { mdb_env_close(env); }
  };
  Env(MDB_env* env, bool writable) : env_(env), writable_(writable) {}
  std::unique_ptr<MDB_env, Deleter> env_;
  bool writable_ = false;
};

}  // namespace cloudlink::state
