#include "control/state/lmdb.h"

#include <filesystem>

namespace cloudlink::state {
namespace {

// Address space, not disk: the file grows with the data.
constexpr size_t kMapSize = size_t{1} << 30;

MDB_val as_val(std::string_view bytes) {
  return MDB_val{bytes.size(), const_cast<char*>(bytes.data())};
}
std::string_view as_view(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

struct CursorCloser {
  void operator()(MDB_cursor* c) const { mdb_cursor_close(c); }
};

}  // namespace

Error mdb_error(int rc, const std::string& what) {
  if (rc > 0) return Error(rc, what);
  return Error(EIO, what + ": " + mdb_strerror(rc));
}

Txn& Txn::operator=(Txn&& other) noexcept {
  if (this != &other) {
    abort();
    txn_ = std::exchange(other.txn_, nullptr);
  }
  return *this;
}

Result<void> Txn::commit() {
  int rc = mdb_txn_commit(std::exchange(txn_, nullptr));
  if (rc != 0) return mdb_error(rc, "state: mdb_txn_commit");
  return ok();
}

void Txn::abort() {
  if (txn_ != nullptr) mdb_txn_abort(std::exchange(txn_, nullptr));
}

Result<std::optional<std::string>> Txn::get(MDB_dbi dbi, std::string_view key) const {
  if (key.empty()) return std::optional<std::string>();
  MDB_val k = as_val(key);
  MDB_val v{};
  int rc = mdb_get(txn_, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string>();
  if (rc != 0) return mdb_error(rc, "state: mdb_get");
  return std::optional<std::string>(std::string(as_view(v)));
}

Result<void> Txn::put(MDB_dbi dbi, std::string_view key, std::string_view value) {
  MDB_val k = as_val(key);
  MDB_val v = as_val(value);
  int rc = mdb_put(txn_, dbi, &k, &v, 0);
  if (rc != 0) return mdb_error(rc, "state: mdb_put");
  return ok();
}

Result<bool> Txn::insert(MDB_dbi dbi, std::string_view key, std::string_view value) {
  MDB_val k = as_val(key);
  MDB_val v = as_val(value);
  int rc = mdb_put(txn_, dbi, &k, &v, MDB_NOOVERWRITE);
  if (rc == MDB_KEYEXIST) return false;
  if (rc != 0) return mdb_error(rc, "state: mdb_put");
  return true;
}

Result<bool> Txn::del(MDB_dbi dbi, std::string_view key) {
  if (key.empty()) return false;
  MDB_val k = as_val(key);
  int rc = mdb_del(txn_, dbi, &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) return mdb_error(rc, "state: mdb_del");
  return true;
}

Result<void> Txn::scan(MDB_dbi dbi, std::string_view from,
                       const std::function<bool(std::string_view, std::string_view)>& visit) const {
  MDB_cursor* raw = nullptr;
  int rc = mdb_cursor_open(txn_, dbi, &raw);
  if (rc != 0) return mdb_error(rc, "state: mdb_cursor_open");
  std::unique_ptr<MDB_cursor, CursorCloser> cursor(raw);
  MDB_val k = as_val(from);
  MDB_val v{};
  rc = from.empty() ? mdb_cursor_get(raw, &k, &v, MDB_FIRST)
                    : mdb_cursor_get(raw, &k, &v, MDB_SET_RANGE);
  for (; rc == 0; rc = mdb_cursor_get(raw, &k, &v, MDB_NEXT)) {
    if (!visit(as_view(k), as_view(v))) return ok();
  }
  if (rc != MDB_NOTFOUND) return mdb_error(rc, "state: mdb_cursor_get");
  return ok();
}

Result<std::optional<std::pair<std::string, std::string>>> Txn::last(MDB_dbi dbi) const {
  MDB_cursor* raw = nullptr;
  int rc = mdb_cursor_open(txn_, dbi, &raw);
  if (rc != 0) return mdb_error(rc, "state: mdb_cursor_open");
  std::unique_ptr<MDB_cursor, CursorCloser> cursor(raw);
  MDB_val k{};
  MDB_val v{};
  rc = mdb_cursor_get(raw, &k, &v, MDB_LAST);
  using Pair = std::pair<std::string, std::string>;
  if (rc == MDB_NOTFOUND) return std::optional<Pair>();
  if (rc != 0) return mdb_error(rc, "state: mdb_cursor_get");
  return std::optional<Pair>(Pair(std::string(as_view(k)), std::string(as_view(v))));
}

Result<Env> Env::open(const std::string& dir, bool writable, unsigned max_dbs, mdb_mode_t mode) {
  if (writable) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Error(ec, "state: create " + dir);
  }
  MDB_env* raw = nullptr;
  int rc = mdb_env_create(&raw);
  if (rc != 0) return mdb_error(rc, "state: mdb_env_create");
  Env env(raw, writable);
  if ((rc = mdb_env_set_mapsize(raw, kMapSize)) != 0) {
    return mdb_error(rc, "state: mdb_env_set_mapsize");
  }
  if ((rc = mdb_env_set_maxdbs(raw, max_dbs)) != 0) {
    return mdb_error(rc, "state: mdb_env_set_maxdbs");
  }
  // MDB_NOTLS: read txns may be used from the HTTP server's pool threads.
  unsigned flags = MDB_NOTLS | (writable ? 0 : MDB_RDONLY);
  if ((rc = mdb_env_open(raw, dir.c_str(), flags, mode)) != 0) {
    return mdb_error(rc, "state: open " + dir);
  }
  return env;
}

Result<Txn> Env::begin(bool write) const {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_.get(), nullptr, write ? 0 : MDB_RDONLY, &txn);
  if (rc != 0) return mdb_error(rc, "state: mdb_txn_begin");
  return Txn(txn);
}

Result<MDB_dbi> Env::open_db(const char* name) {
  auto txn = begin(writable_);
  if (!txn) return txn.error();
  MDB_dbi dbi = 0;
  int rc = mdb_dbi_open(txn->get(), name, writable_ ? MDB_CREATE : 0, &dbi);
  if (rc != 0) return mdb_error(rc, std::string("state: open database ") + name);
  if (auto committed = txn->commit(); !committed) return committed.error();
  return dbi;
}

}  // namespace cloudlink::state
