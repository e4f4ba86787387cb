// Route lookup cost on a table of 10,000 routes (a mix of exact names and wildcards): the
// per-connection price the dataplane pays, including the txn renew/reset around each lookup.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/route_table.h"

namespace {

using cloudlink::LookupStatus;
using cloudlink::Route;
using cloudlink::RouteTable;

constexpr int kRoutes = 10000;
constexpr int kWildcardEvery = 10;  // every 10th route is "*.zoneN.example.com"

// The table lives for the whole process: LMDB must not open one environment twice.
class BenchTable {
 public:
  BenchTable() {
    std::string pattern = std::filesystem::temp_directory_path() / "route_lookup_bench.XXXXXX";
    dir_ = ::mkdtemp(pattern.data());
    auto table = RouteTable::open_writable(dir_);
    if (!table) std::abort();
    std::vector<cloudlink::SocketAddress> targets = {
        cloudlink::SocketAddress::parse("127.0.0.1:40000").value()};
    Route route = cloudlink::make_route("bench", 0, targets).value();
    std::vector<std::pair<std::string, Route>> routes;
    for (int i = 0; i < kRoutes; ++i) {
      std::string host = i % kWildcardEvery == 0 ? "*.zone" + std::to_string(i) + ".example.com"
                                                 : "app" + std::to_string(i) + ".example.com";
      routes.emplace_back(std::move(host), route);
    }
    if (!table->replace_all(routes)) std::abort();
    table_.emplace(std::move(table.value()));
  }
  ~BenchTable() {
    table_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  RouteTable& table() { return *table_; }

 private:
  std::string dir_;
  std::optional<RouteTable> table_;
};

RouteTable& bench_table() {
  static BenchTable table;
  return table.table();
}

void run_lookups(benchmark::State& state, const std::vector<std::string>& hosts,
                 LookupStatus expected) {
  auto reader = bench_table().make_reader();
  if (!reader) {
    state.SkipWithError(reader.error().message().c_str());
    return;
  }
  Route route;
  size_t i = 0;
  for (auto _ : state) {
    LookupStatus status = reader->lookup(hosts[i], route);
    if (status != expected) {
      state.SkipWithError("unexpected lookup result");
      break;
    }
    benchmark::DoNotOptimize(route);
    i = (i + 1) % hosts.size();
  }
}

std::vector<std::string> make_hosts(const char* format) {
  std::vector<std::string> hosts;
  for (int i = 1; i < kRoutes; i += kWildcardEvery + 1) {
    char host[128];
    std::snprintf(host, sizeof host, format, i / kWildcardEvery * kWildcardEvery, i);
    hosts.emplace_back(host);
  }
  return hosts;
}

void BM_ExactHit(benchmark::State& state) {
  std::vector<std::string> hosts;
  for (int i = 1; i < kRoutes; ++i) {
    if (i % kWildcardEvery != 0) hosts.push_back("app" + std::to_string(i) + ".example.com");
  }
  run_lookups(state, hosts, LookupStatus::kFound);
}

// Three misses (exact, "*.a.zoneN...", ...) before the "*.zoneN.example.com" hit.
void BM_WildcardHit(benchmark::State& state) {
  run_lookups(state, make_hosts("x%2$d.a.zone%1$d.example.com"), LookupStatus::kFound);
}

// Exact miss plus every wildcard suffix missing.
void BM_Miss(benchmark::State& state) {
  run_lookups(state, make_hosts("nobody%2$d.z%1$d.example.org"), LookupStatus::kNotFound);
}

BENCHMARK(BM_ExactHit);
BENCHMARK(BM_WildcardHit);
BENCHMARK(BM_Miss);

}  // namespace
