// The LMDB `routes` environment under DATA_DIR/routes: written only by cloudlink-control,
// read by every dataplane worker. One write transaction per logical change, so a reader sees
// all of a change or none of it.
//
// The map grows (common/lmdb_map.h): a write that fills it is dropped, the map doubles up to
// the writer's MapLimits::max_bytes, and the write runs again (fill is called anew). Readers
// follow: a lookup that finds the table grown past its own map (MDB_MAP_RESIZED) remaps to
// the size the writer recorded and retries. A remap needs every transaction of this process
// on the environment idle, so each Reader has its own lock (uncontended: only its thread
// takes it, per lookup) and a remap takes all of them, plus the writers' gate, for the
// moment it lasts. Lookups on other threads wait those microseconds; none reads an unmapped
// page.
#pragma once

#include <lmdb.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/lmdb_map.h"
#include "common/result.h"
#include "common/route_record.h"

namespace cloudlink {

enum class LookupStatus { kFound, kNotFound, kError };

class RouteTable {
  // The environment, its limits, the writers' gate and the readers' locks (route_table.cpp).
  struct Gate;

 public:
  // Opens DATA_DIR/routes. Read-only opens never write data pages; when the environment does
  // not exist yet it is created empty so a dataplane can start before the first route. A
  // read-only open maps what the writer recorded; a writable one starts at limits (or at the
  // recorded size when larger) and grows up to limits.max_bytes.
  static Result<RouteTable> open_readonly(const std::string& data_dir);
  static Result<RouteTable> open_writable(const std::string& data_dir, MapLimits limits = {});

  RouteTable(RouteTable&&) noexcept;
  RouteTable& operator=(RouteTable&&) noexcept;
  ~RouteTable();

  // One per thread; holds a reset read transaction that each lookup renews, so a lookup sees
  // the newest committed table and a writer is never blocked by an idle reader.
  class Reader {
   public:
    Reader(Reader&&) noexcept;
    Reader& operator=(Reader&&) noexcept;
    ~Reader();
    // host must be lower-case (normalize_hostname). Exact match first, then the longest
    // "*." wildcard suffix: for a.b.example.com, "*.b.example.com" then "*.example.com" ...
    LookupStatus lookup(std::string_view host, Route& out);
    // On kError, what went wrong (static text plus LMDB's message).
    const char* last_error() const { return last_error_; }

   private:
    friend class RouteTable;
    struct Slot;
    Reader(std::shared_ptr<Gate> gate, MDB_dbi dbi, std::unique_ptr<Slot> slot);
    LookupStatus find(std::string_view host, Route& out);
    std::shared_ptr<Gate> gate_;
    MDB_dbi dbi_ = 0;
    std::unique_ptr<Slot> slot_;
    const char* last_error_ = "";
  };
  Result<Reader> make_reader();

  // How full the map is (map, used and max bytes; growths done by this process).
  MapUsage usage() const;

  // Writer side (control). Each call is one write transaction.
  Result<void> put(std::string_view host, const Route& route);
  Result<bool> remove(std::string_view host);  // false when the host had no route
  Result<std::vector<std::pair<std::string, Route>>> list();
  // Replaces the whole table in one transaction (routes sync).
  Result<void> replace_all(const std::vector<std::pair<std::string, Route>>& routes);

  // The changes of one write transaction, collected by a write() callback.
  struct Batch {
    bool clear = false;  // empty the table first
    std::vector<std::pair<std::string, Route>> puts;
    std::vector<std::string> removes;  // a host without a route is not an error
  };
  // Begins a write transaction, then calls fill to decide what to write, then applies the batch
  // and commits. fill runs while this process holds the routes writer lock, so what fill reads
  // from elsewhere (control's state) is ordered with every other writer: two writers that each
  // read the newest state inside fill can never leave the table at the older state.
  Result<void> write(const std::function<Result<Batch>()>& fill);

 private:
  RouteTable(std::shared_ptr<Gate> gate, MDB_dbi dbi);
  // One write transaction: apply(txn) then commit; on MDB_MAP_FULL grow and apply again.
  Result<void> write_txn(const std::function<Result<void>(MDB_txn*)>& apply);
  std::shared_ptr<Gate> gate_;
  MDB_dbi dbi_ = 0;
};

}  // namespace cloudlink
