#include "control/state/lmdb.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>

#include "control/state/errors.h"

namespace cloudlink::state {
namespace {

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

Error mdb_error(int rc, const std::string& what) { return lmdb_error(rc, what); }

Txn& Txn::operator=(Txn&& other) noexcept {
  if (this != &other) {
    abort();
    txn_ = std::exchange(other.txn_, nullptr);
    gate_ = std::move(other.gate_);
  }
  return *this;
}

Result<void> Txn::commit() {
  int rc = mdb_txn_commit(std::exchange(txn_, nullptr));
  if (gate_.owns_lock()) gate_.unlock();
  if (rc != 0) return mdb_error(rc, "state: mdb_txn_commit");
  return ok();
}

void Txn::abort() {
  if (txn_ != nullptr) mdb_txn_abort(std::exchange(txn_, nullptr));
  if (gate_.owns_lock()) gate_.unlock();
}

Result<std::optional<std::string>> Txn::get(MDB_dbi dbi, std::string_view key) const {
  // LMDB refuses empty keys and keys over its limit (MDB_BAD_VALSIZE); no record has one, so
  // a lookup by such a key (a hostile path segment) finds nothing rather than failing.
  if (key.empty() || key.size() > kMaxKeyBytes) return std::optional<std::string>();
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
  if (key.empty() || key.size() > kMaxKeyBytes) return false;
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

Result<size_t> Txn::entries(MDB_dbi dbi) const {
  MDB_stat stat{};
  int rc = mdb_stat(txn_, dbi, &stat);
  if (rc != 0) return mdb_error(rc, "state: mdb_stat");
  return size_t{stat.ms_entries};
}

struct Env::Shared {
  struct Closer {
    void operator()(MDB_env* env) const { mdb_env_close(env); }
  };
  std::unique_ptr<MDB_env, Closer> env;
  bool writable = false;
  MapLimits limits;
  std::string dir;
  mutable std::shared_mutex gate;
  std::atomic<uint64_t> growths{0};
};

Env::Env(std::unique_ptr<Shared> shared) : shared_(std::move(shared)) {}
Env::Env(Env&&) noexcept = default;
Env& Env::operator=(Env&&) noexcept = default;
Env::~Env() = default;

MDB_env* Env::get() const { return shared_->env.get(); }

size_t Env::map_bytes() const {
  MDB_envinfo info{};
  mdb_env_info(shared_->env.get(), &info);
  return info.me_mapsize;
}

MapUsage Env::usage() const {
  std::shared_lock gate(shared_->gate);
  MapUsage usage = map_usage(shared_->env.get());
  usage.max_bytes = shared_->limits.max_bytes;
  usage.growths = shared_->growths.load();
  return usage;
}

Result<void> Env::grow(size_t seen_map_bytes) const {
  std::unique_lock gate(shared_->gate);
  size_t now = map_bytes();
  if (now > seen_map_bytes) return ok();  // another thread grew it meanwhile
  size_t next = next_map_size(now, shared_->limits.max_bytes);
  if (next == 0) {
    return state_error(StateErrc::kStorageFull,
                       "storage full: the LMDB map of " +
                           std::filesystem::path(shared_->dir).filename().string() +
                           " is at its maximum of " + std::to_string(shared_->limits.max_bytes) +
                           " bytes (raise map-size-max)");
  }
  int rc = mdb_env_set_mapsize(shared_->env.get(), next);
  if (rc != 0) return mdb_error(rc, "state: grow the map of " + shared_->dir);
  shared_->growths++;
  return ok();
}

Result<void> Env::adopt() const {
  std::unique_lock gate(shared_->gate);
  int rc = mdb_env_set_mapsize(shared_->env.get(), 0);
  if (rc != 0) return mdb_error(rc, "state: adopt the map size of " + shared_->dir);
  return ok();
}

Result<Env> Env::open(const std::string& dir, bool writable, unsigned max_dbs, mdb_mode_t mode,
                      MapLimits limits) {
  if (writable) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Error(ec, "state: create " + dir);
  }
  limits.max_bytes = std::max(limits.max_bytes, MapLimits::kMinimum);
  limits.initial_bytes = std::clamp(limits.initial_bytes, MapLimits::kMinimum, limits.max_bytes);
  MDB_env* raw = nullptr;
  int rc = mdb_env_create(&raw);
  if (rc != 0) return mdb_error(rc, "state: mdb_env_create");
  auto shared = std::make_unique<Shared>();
  shared->env.reset(raw);
  shared->writable = writable;
  shared->limits = limits;
  shared->dir = dir;
  // A read-only open takes the size the writer recorded; a writer starts at the initial size.
  if (writable && (rc = mdb_env_set_mapsize(raw, limits.initial_bytes)) != 0) {
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
  Env env(std::move(shared));
  if (writable) {
    // The environment may have recorded a bigger map (grown before a restart): keep that,
    // up to the maximum; LMDB itself never maps less than the data.
    auto recorded = mdb_env_set_mapsize(raw, 0);
    size_t size = std::clamp(env.map_bytes(), limits.initial_bytes, limits.max_bytes);
    if (recorded != 0 || (rc = mdb_env_set_mapsize(raw, size)) != 0) {
      return mdb_error(recorded != 0 ? recorded : rc, "state: mdb_env_set_mapsize " + dir);
    }
  }
  return env;
}

Result<Txn> Env::begin(bool write) const {
  for (int attempt = 0;; ++attempt) {
    std::shared_lock gate(shared_->gate);
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(shared_->env.get(), nullptr, write ? 0 : MDB_RDONLY, &txn);
    if (rc == 0) return Txn(txn, std::move(gate));
    // Another process (the CLI beside serve) grew the map past ours: adopt its size, once.
    if (rc != MDB_MAP_RESIZED || attempt > 0) return mdb_error(rc, "state: mdb_txn_begin");
    gate.unlock();
    if (auto adopted = adopt(); !adopted) return adopted.error();
  }
}

Result<MDB_dbi> Env::open_db(const char* name) {
  auto txn = begin(shared_->writable);
  if (!txn) return txn.error();
  MDB_dbi dbi = 0;
  int rc = mdb_dbi_open(txn->get(), name, shared_->writable ? MDB_CREATE : 0, &dbi);
  if (rc != 0) return mdb_error(rc, std::string("state: open database ") + name);
  if (auto committed = txn->commit(); !committed) return committed.error();
  return dbi;
}

}  // namespace cloudlink::state
