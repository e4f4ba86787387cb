#include "common/route_table.h"

#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "common/hostname.h"

namespace cloudlink {
namespace {

// Address space only: LMDB maps this much but the file grows with the data. Readers and the
// writer use the same size so the writer never has to grow the map under a running dataplane.
constexpr size_t kMapSize = size_t{1} << 30;
constexpr unsigned kMaxReaders = 1024;
constexpr mdb_mode_t kFileMode = 0664;

Error mdb_error(int rc, const std::string& what) {
  // LMDB returns errno values or its own negative codes; keep the text of both.
  if (rc > 0) return Error(rc, what);
  return invalid(what + ": " + mdb_strerror(rc));
}

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

}  // namespace

void RouteTable::EnvDeleter::operator()(MDB_env* env) const { mdb_env_close(env); }

RouteTable::RouteTable(RouteTable&&) noexcept = default;
RouteTable& RouteTable::operator=(RouteTable&&) noexcept = default;
RouteTable::~RouteTable() = default;

namespace {

Result<std::unique_ptr<MDB_env, void (*)(MDB_env*)>> open_env(const std::string& dir,
                                                              unsigned flags) {
  MDB_env* raw = nullptr;
  int rc = mdb_env_create(&raw);
  if (rc != 0) return mdb_error(rc, "route table: mdb_env_create");
  std::unique_ptr<MDB_env, void (*)(MDB_env*)> env(raw, mdb_env_close);
  if ((rc = mdb_env_set_mapsize(env.get(), kMapSize)) != 0) {
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

Result<RouteTable> RouteTable::open_writable(const std::string& data_dir) {
  std::string dir = data_dir + "/routes";
  if (auto made = make_dirs(dir); !made) return made.error();
  auto env = open_env(dir, 0);
  if (!env) return env.error();
  auto txn = begin_txn(env->get(), 0);
  if (!txn) return txn.error();
  MDB_dbi dbi = 0;
  int rc = mdb_dbi_open(txn->get(), nullptr, 0, &dbi);
  if (rc != 0) return mdb_error(rc, "route table: mdb_dbi_open");
  if (auto committed = commit(std::move(*txn)); !committed) return committed.error();
  return RouteTable(std::unique_ptr<MDB_env, EnvDeleter>(env->release()), dbi);
}

Result<RouteTable> RouteTable::open_readonly(const std::string& data_dir) {
  std::string dir = data_dir + "/routes";
  std::error_code ec;
  if (!std::filesystem::exists(dir + "/data.mdb", ec)) {
    // Create the empty environment (meta pages only) so a dataplane can start first.
    auto created = open_writable(data_dir);
    if (!created) return created.error();
  }
  auto env = open_env(dir, MDB_RDONLY);
  if (!env) return env.error();
  auto txn = begin_txn(env->get(), MDB_RDONLY);
  if (!txn) return txn.error();
  MDB_dbi dbi = 0;
  int rc = mdb_dbi_open(txn->get(), nullptr, 0, &dbi);
  if (rc != 0) return mdb_error(rc, "route table: mdb_dbi_open");
  if (auto committed = commit(std::move(*txn)); !committed) return committed.error();
  return RouteTable(std::unique_ptr<MDB_env, EnvDeleter>(env->release()), dbi);
}

// ---- Reader ----

RouteTable::Reader::Reader(Reader&& other) noexcept
    : env_(std::exchange(other.env_, nullptr)),
      dbi_(other.dbi_),
      txn_(std::exchange(other.txn_, nullptr)),
      last_error_(other.last_error_) {}

RouteTable::Reader& RouteTable::Reader::operator=(Reader&& other) noexcept {
  if (this != &other) {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
    env_ = std::exchange(other.env_, nullptr);
    dbi_ = other.dbi_;
    txn_ = std::exchange(other.txn_, nullptr);
    last_error_ = other.last_error_;
  }
  return *this;
}

RouteTable::Reader::~Reader() {
  if (txn_ != nullptr) mdb_txn_abort(txn_);
}

Result<RouteTable::Reader> RouteTable::make_reader() {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_.get(), nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return mdb_error(rc, "route table: mdb_txn_begin (reader)");
  // Idle until the first lookup: a reset txn pins no snapshot, so it never holds pages back.
  mdb_txn_reset(txn);
  return Reader(env_.get(), dbi_, txn);
}

LookupStatus RouteTable::Reader::lookup(std::string_view host, Route& out) {
  if (txn_ == nullptr) {
    last_error_ = "route lookup: reader has no transaction";
    return LookupStatus::kError;
  }
  if (host.empty() || host.size() > kMaxHostnameLength) return LookupStatus::kNotFound;
  int rc = mdb_txn_renew(txn_);
  if (rc == MDB_MAP_RESIZED) {
    // Another process grew the map beyond ours: adopt its size and retry once (the failed
    // renew leaves the txn reset). The remap is not safe while another thread of this process
    // is inside a lookup; our writer keeps the same fixed size, so only an out-of-band resize
    // (mdb_copy, a bigger map set by hand) gets here.
    rc = mdb_env_set_mapsize(env_, 0);
    if (rc == 0) rc = mdb_txn_renew(txn_);
  }
  if (rc != 0) {
    last_error_ = set_reader_error("route lookup: mdb_txn_renew", mdb_strerror(rc));
    return LookupStatus::kError;
  }
  struct ResetOnExit {
    MDB_txn* txn;
    ~ResetOnExit() { mdb_txn_reset(txn); }
  } reset{txn_};

  // Exact key, then "*" + each suffix that starts at a dot, longest first.
  char key[kMaxHostnameLength + 1];
  std::string_view candidate = host;
  size_t next_dot = 0;
  while (true) {
    MDB_val k = as_val(candidate);
    MDB_val v{};
    rc = mdb_get(txn_, dbi_, &k, &v);
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

Result<void> RouteTable::put(std::string_view host, const Route& route) {
  if (auto valid = validate_route_hostname(host); !valid) return valid.error();
  std::string value = encode_route(route);
  auto txn = begin_txn(env_.get(), 0);
  if (!txn) return txn.error();
  MDB_val k = as_val(host);
  MDB_val v = as_val(value);
  int rc = mdb_put(txn->get(), dbi_, &k, &v, 0);
  if (rc != 0) return mdb_error(rc, "route table: put " + std::string(host));
  return commit(std::move(*txn));
}

Result<bool> RouteTable::remove(std::string_view host) {
  auto txn = begin_txn(env_.get(), 0);
  if (!txn) return txn.error();
  MDB_val k = as_val(host);
  if (k.mv_size == 0) return false;  // LMDB rejects empty keys; no route can have one
  int rc = mdb_del(txn->get(), dbi_, &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) return mdb_error(rc, "route table: remove " + std::string(host));
  if (auto committed = commit(std::move(*txn)); !committed) return committed.error();
  return true;
}

Result<std::vector<std::pair<std::string, Route>>> RouteTable::list() {
  auto txn = begin_txn(env_.get(), MDB_RDONLY);
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
  auto txn = begin_txn(env_.get(), 0);
  if (!txn) return txn.error();
  auto batch = fill();
  if (!batch) return batch.error();
  for (const auto& [host, route] : batch->puts) {
    if (auto valid = validate_route_hostname(host); !valid) return valid.error();
  }
  int rc = 0;
  // Empty the database inside the same txn: readers see the old table or the new, never a mix.
  if (batch->clear && (rc = mdb_drop(txn->get(), dbi_, 0)) != 0) {
    return mdb_error(rc, "route table: mdb_drop");
  }
  for (const std::string& host : batch->removes) {
    MDB_val k = as_val(host);
    if (k.mv_size == 0) continue;  // LMDB rejects empty keys; no route can have one
    rc = mdb_del(txn->get(), dbi_, &k, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND) return mdb_error(rc, "route table: remove " + host);
  }
  for (const auto& [host, route] : batch->puts) {
    std::string value = encode_route(route);
    MDB_val k = as_val(host);
    MDB_val v = as_val(value);
    rc = mdb_put(txn->get(), dbi_, &k, &v, 0);
    if (rc != 0) return mdb_error(rc, "route table: put " + host);
  }
  return commit(std::move(*txn));
}

}  // namespace cloudlink
