#include "common/route_table.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <shared_mutex>

#include "common/hostname.h"

namespace cloudlink {
namespace {

constexpr unsigned kMaxReaders = 1024;
// A writer may grow the map again between a reader's remap and its retry; the map at least
// doubles each time, so a few rounds always catch up (this bounds a pathological loop).
constexpr int kMaxRemaps = 16;
constexpr mdb_mode_t kFileMode = 0664;

Error mdb_error(int rc, const std::string& what) { return lmdb_error(rc, what); }

struct TxnDeleter {
  void operator()(MDB_txn* txn) const { mdb_txn_abort(txn); }
};
using UniqueTxn = std::unique_ptr<MDB_txn, TxnDeleter>;

struct CursorDeleter {
  void operator()(MDB_cursor* cursor) const { mdb_cursor_close(cursor); }
};
using UniqueCursor = std::unique_ptr<MDB_cursor, CursorDeleter>;

Result<UniqueTxn> begin_txn(MDB_env* env, unsigned flags) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env, nullptr, flags, &txn);
  if (rc != 0) return mdb_error(rc, "route table: mdb_txn_begin");
  return UniqueTxn(txn);
}

Result<void> commit(UniqueTxn txn) {
  // mdb_txn_commit frees the txn whether or not it succeeds.
  int rc = mdb_txn_commit(txn.release());
  if (rc != 0) return mdb_error(rc, "route table: mdb_txn_commit");
  return ok();
}

MDB_val as_val(std::string_view bytes) {
  return MDB_val{bytes.size(), const_cast<char*>(bytes.data())};
}

Result<void> make_dirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return Error(ec, "route table: create " + path);
  return ok();
}

// Last error text for Reader::last_error(): a Reader is used by one thread, so a per-thread
// buffer keeps the message alive without allocating on the lookup path.
const char* set_reader_error(const char* what, const char* detail) {
  thread_local char buffer[256];
  std::snprintf(buffer, sizeof buffer, "%s: %s", what, detail);
  return buffer;
}

size_t map_bytes(MDB_env* env) {
  MDB_envinfo info{};
  mdb_env_info(env, &info);
  return info.me_mapsize;
}

}  // namespace

struct RouteTable::Gate {
  struct Closer {
    void operator()(MDB_env* env) const { mdb_env_close(env); }
  };
  std::unique_ptr<MDB_env, Closer> env;
  MapLimits limits;
  std::shared_mutex writers;  // held shared by each write txn of this process
  std::mutex readers_mutex;   // guards reader_locks
  std::vector<std::mutex*> reader_locks;
  std::atomic<uint64_t> growths{0};

  // Remaps the environment to size (0: the size the writer recorded) while no transaction of
  // this process is open on it: every writer and every reader of this process waits.
  // With seen set, only when the map is still that size (no other thread grew it meanwhile).
  Result<void> remap(size_t size, size_t seen = 0) {
    std::unique_lock writing(writers);
    std::lock_guard registry(readers_mutex);
    for (std::mutex* lock : reader_locks) lock->lock();
    int rc = 0;
    if (seen == 0 || map_bytes(env.get()) == seen) rc = mdb_env_set_mapsize(env.get(), size);
    for (auto it = reader_locks.rbegin(); it != reader_locks.rend(); ++it) (*it)->unlock();
    if (rc != 0) return mdb_error(rc, "route table: remap");
    return ok();
  }

  // After MDB_MAP_FULL at map size seen: doubles the map, up to limits.max_bytes.
  Result<void> grow(size_t seen) {
    size_t next = next_map_size(seen, limits.max_bytes);
    if (next == 0) {
      return Error(ENOSPC, "route table: the LMDB map of routes is at its maximum of " +
                               std::to_string(limits.max_bytes) + " bytes (raise map-size-max)");
    }
    if (auto remapped = remap(next, seen); !remapped) return remapped;
    growths++;
    return ok();
  }
};

struct RouteTable::Reader::Slot {
  std::mutex lock;  // held for a lookup; a remap takes every reader's
  MDB_txn* txn = nullptr;
};

RouteTable::RouteTable(std::shared_ptr<Gate> gate, MDB_dbi dbi)
    : gate_(std::move(gate)), dbi_(dbi) {}
RouteTable::RouteTable(RouteTable&&) noexcept = default;
RouteTable& RouteTable::operator=(RouteTable&&) noexcept = default;
RouteTable::~RouteTable() = default;

namespace {

Result<std::unique_ptr<MDB_env, void (*)(MDB_env*)>> open_env(const std::string& dir,
                                                              unsigned flags, size_t map_size) {
  MDB_env* raw = nullptr;
  int rc = mdb_env_create(&raw);
  if (rc != 0) return mdb_error(rc, "route table: mdb_env_create");
  std::unique_ptr<MDB_env, void (*)(MDB_env*)> env(raw, mdb_env_close);
  // No size set (read-only): LMDB maps what the writer recorded in the environment.
  if (map_size != 0 && (rc = mdb_env_set_mapsize(env.get(), map_size)) != 0) {
    return mdb_error(rc, "route table: mdb_env_set_mapsize");
  }
  if ((rc = mdb_env_set_maxreaders(env.get(), kMaxReaders)) != 0) {
    return mdb_error(rc, "route table: mdb_env_set_maxreaders");
  }
  // MDB_NOTLS: a reader's slot belongs to its txn, not its thread, so a Reader may be made on
  // one thread and used on another, and a reset txn keeps its slot.
  if ((rc = mdb_env_open(env.get(), dir.c_str(), flags | MDB_NOTLS, kFileMode)) != 0) {
    return mdb_error(rc, "route table: open " + dir);
  }
  return env;
}

}  // namespace

Result<RouteTable> RouteTable::open_writable(const std::string& data_dir, MapLimits limits) {
  std::string dir = data_dir + "/routes";
  if (auto made = make_dirs(dir); !made) return made.error();
  limits.max_bytes = std::max(limits.max_bytes, MapLimits::kMinimum);
  limits.initial_bytes = std::clamp(limits.initial_bytes, MapLimits::kMinimum, limits.max_bytes);
  auto env = open_env(dir, 0, limits.initial_bytes);
  if (!env) return env.error();
  // Keep a bigger map the environment recorded (grown before a restart), up to the maximum.
  int rc = mdb_env_set_mapsize(env->get(), 0);
  if (rc == 0) {
    size_t size = std::clamp(map_bytes(env->get()), limits.initial_bytes, limits.max_bytes);
    rc = mdb_env_set_mapsize(env->get(), size);
  }
  if (rc != 0) return mdb_error(rc, "route table: mdb_env_set_mapsize");
  auto txn = begin_txn(env->get(), 0);
  if (!txn) return txn.error();
  MDB_dbi dbi = 0;
  rc = mdb_dbi_open(txn->get(), nullptr, 0, &dbi);
  if (rc != 0) return mdb_error(rc, "route table: mdb_dbi_open");
  if (auto committed = commit(std::move(*txn)); !committed) return committed.error();
  auto gate = std::make_shared<Gate>();
  gate->env.reset(env->release());
  gate->limits = limits;
  return RouteTable(std::move(gate), dbi);
}

Result<RouteTable> RouteTable::open_readonly(const std::string& data_dir) {
  std::string dir = data_dir + "/routes";
  std::error_code ec;
  if (!std::filesystem::exists(dir + "/data.mdb", ec)) {
    // Create the empty environment (meta pages only) so a dataplane can start first.
    auto created = open_writable(data_dir);
    if (!created) return created.error();
  }
  auto env = open_env(dir, MDB_RDONLY, 0);
  if (!env) return env.error();
  auto txn = begin_txn(env->get(), MDB_RDONLY);
  if (!txn) return txn.error();
  MDB_dbi dbi = 0;
  int rc = mdb_dbi_open(txn->get(), nullptr, 0, &dbi);
  if (rc != 0) return mdb_error(rc, "route table: mdb_dbi_open");
  if (auto committed = commit(std::move(*txn)); !committed) return committed.error();
  auto gate = std::make_shared<Gate>();
  gate->env.reset(env->release());
  return RouteTable(std::move(gate), dbi);
}

MapUsage RouteTable::usage() const {
  std::shared_lock writing(gate_->writers);
  MapUsage usage = map_usage(gate_->env.get());
  usage.max_bytes = gate_->limits.max_bytes;
  usage.growths = gate_->growths.load();
  return usage;
}

// ---- Reader ----

RouteTable::Reader::Reader(std::shared_ptr<Gate> gate, MDB_dbi dbi, std::unique_ptr<Slot> slot)
    : gate_(std::move(gate)), dbi_(dbi), slot_(std::move(slot)) {
  std::lock_guard registry(gate_->readers_mutex);
  gate_->reader_locks.push_back(&slot_->lock);
}

RouteTable::Reader::Reader(Reader&& other) noexcept
    : gate_(std::move(other.gate_)),
      dbi_(other.dbi_),
      slot_(std::move(other.slot_)),
      last_error_(other.last_error_) {}

RouteTable::Reader& RouteTable::Reader::operator=(Reader&& other) noexcept {
  if (this != &other) {
    Reader gone(std::move(*this));  // unregisters and aborts what this held
    gate_ = std::move(other.gate_);
    dbi_ = other.dbi_;
    slot_ = std::move(other.slot_);
    last_error_ = other.last_error_;
  }
  return *this;
}

RouteTable::Reader::~Reader() {
  if (!slot_) return;
  {
    std::lock_guard registry(gate_->readers_mutex);
    std::erase(gate_->reader_locks, &slot_->lock);
  }
  if (slot_->txn != nullptr) mdb_txn_abort(slot_->txn);
}

Result<RouteTable::Reader> RouteTable::make_reader() {
  MDB_txn* txn = nullptr;
  std::shared_lock writing(gate_->writers);  // no remap while the txn starts
  int rc = mdb_txn_begin(gate_->env.get(), nullptr, MDB_RDONLY, &txn);
  for (int remaps = 0; rc == MDB_MAP_RESIZED && remaps < kMaxRemaps; ++remaps) {
    // The table grew past our map since it was opened: take the writer's size, then begin.
    writing.unlock();
    if (auto remapped = gate_->remap(0); !remapped) return remapped.error();
    writing.lock();
    rc = mdb_txn_begin(gate_->env.get(), nullptr, MDB_RDONLY, &txn);
  }
  if (rc != 0) return mdb_error(rc, "route table: mdb_txn_begin (reader)");
  // Idle until the first lookup: a reset txn pins no snapshot, so it never holds pages back.
  mdb_txn_reset(txn);
  auto slot = std::make_unique<Reader::Slot>();
  slot->txn = txn;
  writing.unlock();
  return Reader(gate_, dbi_, std::move(slot));
}

LookupStatus RouteTable::Reader::lookup(std::string_view host, Route& out) {
  if (!slot_ || slot_->txn == nullptr) {
    last_error_ = "route lookup: reader has no transaction";
    return LookupStatus::kError;
  }
  if (host.empty() || host.size() > kMaxHostnameLength) return LookupStatus::kNotFound;
  for (int attempt = 0;; ++attempt) {
    std::unique_lock held(slot_->lock);
    int rc = mdb_txn_renew(slot_->txn);
    if (rc == MDB_MAP_RESIZED && attempt < kMaxRemaps) {
      // The writer grew the map past ours: remap to its size (the failed renew leaves the
      // txn reset) with every lookup of this process paused, then try again.
      held.unlock();
      auto remapped = gate_->remap(0);
      if (!remapped) {
        last_error_ = set_reader_error("route lookup: remap", remapped.error().message().c_str());
        return LookupStatus::kError;
      }
      continue;
    }
    if (rc != 0) {
      last_error_ = set_reader_error("route lookup: mdb_txn_renew", mdb_strerror(rc));
      return LookupStatus::kError;
    }
    LookupStatus status = find(host, out);
    mdb_txn_reset(slot_->txn);
    return status;
  }
}

LookupStatus RouteTable::Reader::find(std::string_view host, Route& out) {
  // Exact key, then "*" + each suffix that starts at a dot, longest first.
  char key[kMaxHostnameLength + 1];
  std::string_view candidate = host;
  size_t next_dot = 0;
  while (true) {
    MDB_val k = as_val(candidate);
    MDB_val v{};
    int rc = mdb_get(slot_->txn, dbi_, &k, &v);
    if (rc == 0) {
      auto decoded = decode_route({static_cast<const uint8_t*>(v.mv_data), v.mv_size});
      if (!decoded) {
        last_error_ = set_reader_error("route lookup: stored record does not decode",
                                       decoded.error().context().c_str());
        return LookupStatus::kError;
      }
      out = decoded.value();
      return LookupStatus::kFound;
    }
    if (rc != MDB_NOTFOUND) {
      last_error_ = set_reader_error("route lookup: mdb_get", mdb_strerror(rc));
      return LookupStatus::kError;
    }
    size_t dot = host.find('.', next_dot);
    if (dot == std::string_view::npos) return LookupStatus::kNotFound;
    size_t suffix = host.size() - dot;
    key[0] = '*';
    std::memcpy(key + 1, host.data() + dot, suffix);
    candidate = std::string_view(key, suffix + 1);
    next_dot = dot + 1;
  }
}

// ---- Writer ----

Result<void> RouteTable::write_txn(const std::function<Result<void>(MDB_txn*)>& apply) {
  for (int adopted = 0;;) {
    std::shared_lock writing(gate_->writers);
    size_t seen = map_bytes(gate_->env.get());
    MDB_txn* raw = nullptr;
    int rc = mdb_txn_begin(gate_->env.get(), nullptr, 0, &raw);
    if (rc == MDB_MAP_RESIZED && adopted++ < kMaxRemaps) {
      // Another process (a CLI beside control) grew the map: take its size and begin again.
      writing.unlock();
      if (auto remapped = gate_->remap(0); !remapped) return remapped;
      continue;
    }
    if (rc != 0) return mdb_error(rc, "route table: mdb_txn_begin");
    UniqueTxn txn(raw);
    Result<void> done = apply(txn.get());
    if (done) done = commit(std::move(txn));
    if (done || !is_map_full(done.error())) return done;
    txn.reset();  // abort (a failed commit has freed it already)
    writing.unlock();
    if (auto grown = gate_->grow(seen); !grown) return grown;
  }
}

Result<void> RouteTable::put(std::string_view host, const Route& route) {
  if (auto valid = validate_route_hostname(host); !valid) return valid.error();
  std::string value = encode_route(route);
  return write_txn([&](MDB_txn* txn) -> Result<void> {
    MDB_val k = as_val(host);
    MDB_val v = as_val(value);
    int rc = mdb_put(txn, dbi_, &k, &v, 0);
    if (rc != 0) return mdb_error(rc, "route table: put " + std::string(host));
    return ok();
  });
}

Result<bool> RouteTable::remove(std::string_view host) {
  if (host.empty()) return false;  // LMDB rejects empty keys; no route can have one
  bool removed = false;
  auto done = write_txn([&](MDB_txn* txn) -> Result<void> {
    MDB_val k = as_val(host);
    int rc = mdb_del(txn, dbi_, &k, nullptr);
    removed = rc == 0;
    if (rc != 0 && rc != MDB_NOTFOUND)
      return mdb_error(rc, "route table: remove " + std::string(host));
    return ok();
  });
  if (!done) return done.error();
  return removed;
}

Result<std::vector<std::pair<std::string, Route>>> RouteTable::list() {
  std::shared_lock writing(gate_->writers);
  auto txn = begin_txn(gate_->env.get(), MDB_RDONLY);
  if (!txn) return txn.error();
  MDB_cursor* raw = nullptr;
  int rc = mdb_cursor_open(txn->get(), dbi_, &raw);
  if (rc != 0) return mdb_error(rc, "route table: mdb_cursor_open");
  UniqueCursor cursor(raw);
  std::vector<std::pair<std::string, Route>> routes;
  MDB_val k{};
  MDB_val v{};
  for (rc = mdb_cursor_get(raw, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(raw, &k, &v, MDB_NEXT)) {
    std::string host(static_cast<const char*>(k.mv_data), k.mv_size);
    auto decoded = decode_route({static_cast<const uint8_t*>(v.mv_data), v.mv_size});
    if (!decoded) return invalid("route for " + host + ": " + decoded.error().message());
    routes.emplace_back(std::move(host), decoded.value());
  }
  if (rc != MDB_NOTFOUND) return mdb_error(rc, "route table: mdb_cursor_get");
  return routes;
}

Result<void> RouteTable::replace_all(const std::vector<std::pair<std::string, Route>>& routes) {
  return write([&]() -> Result<Batch> { return Batch{true, routes, {}}; });
}

Result<void> RouteTable::write(const std::function<Result<Batch>()>& fill) {
  return write_txn([&](MDB_txn* txn) -> Result<void> {
    auto batch = fill();
    if (!batch) return batch.error();
    for (const auto& [host, route] : batch->puts) {
      if (auto valid = validate_route_hostname(host); !valid) return valid.error();
    }
    int rc = 0;
    // Empty the database inside the same txn: readers see the old table or the new, never a mix.
    if (batch->clear && (rc = mdb_drop(txn, dbi_, 0)) != 0) {
      return mdb_error(rc, "route table: mdb_drop");
    }
    for (const std::string& host : batch->removes) {
      MDB_val k = as_val(host);
      if (k.mv_size == 0) continue;  // LMDB rejects empty keys; no route can have one
      rc = mdb_del(txn, dbi_, &k, nullptr);
      if (rc != 0 && rc != MDB_NOTFOUND) return mdb_error(rc, "route table: remove " + host);
    }
    for (const auto& [host, route] : batch->puts) {
      std::string value = encode_route(route);
      MDB_val k = as_val(host);
      MDB_val v = as_val(value);
      rc = mdb_put(txn, dbi_, &k, &v, 0);
      if (rc != 0) return mdb_error(rc, "route table: put " + host);
    }
    return ok();
  });
}

}  // namespace cloudlink
