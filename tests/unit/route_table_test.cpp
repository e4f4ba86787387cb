#include "common/route_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <thread>

#include "allocation_counter.h"
#include "temp_dir.h"
#include "test_result.h"

namespace cloudlink {
namespace {

using testing::TempDir;

Route route_to(const char* target, std::string_view home = "h") {
  std::vector<SocketAddress> targets = {SocketAddress::parse(target).value()};
  return make_route(home, 0, targets).value();
}

std::string target_of(const Route& route) { return route.targets()[0].to_string(); }

class RouteTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = RouteTable::open_writable(dir_.path());
    ASSERT_OK(opened);
    table_.emplace(std::move(opened.value()));
  }
  // Looks host up with a fresh reader; returns the first target or "" / "error".
  std::string lookup(std::string_view host) {
    auto reader = table_->make_reader();
    if (!reader) return "error";
    Route route;
    switch (reader->lookup(host, route)) {
      case LookupStatus::kFound:
        return target_of(route);
      case LookupStatus::kNotFound:
        return "";
      case LookupStatus::kError:
        return "error";
    }
    return "error";
  }

  TempDir dir_;
  std::optional<RouteTable> table_;
};

TEST_F(RouteTableTest, PutLookupRemove) {
  ASSERT_OK(table_->put("app.test", route_to("127.0.0.1:1001")));
  EXPECT_EQ(lookup("app.test"), "127.0.0.1:1001");
  EXPECT_EQ(lookup("other.test"), "");
  ASSERT_OK(table_->put("app.test", route_to("127.0.0.1:1002")));
  EXPECT_EQ(lookup("app.test"), "127.0.0.1:1002");
  auto removed = table_->remove("app.test");
  ASSERT_OK(removed);
  EXPECT_TRUE(removed.value());
  EXPECT_EQ(lookup("app.test"), "");
  auto again = table_->remove("app.test");
  ASSERT_OK(again);
  EXPECT_FALSE(again.value());
}

TEST_F(RouteTableTest, CreatesTheEnvironmentUnderRoutes) {
  EXPECT_TRUE(std::filesystem::exists(dir_.path() + "/routes/data.mdb"));
}

TEST_F(RouteTableTest, PutRejectsInvalidHostnames) {
  EXPECT_ERR(table_->put("App.test", route_to("127.0.0.1:1")));
  EXPECT_ERR(table_->put("", route_to("127.0.0.1:1")));
  EXPECT_ERR(table_->put("*.test", route_to("127.0.0.1:1")));
  auto listed = table_->list();
  ASSERT_OK(listed);
  EXPECT_TRUE(listed->empty());
}

TEST_F(RouteTableTest, ExactBeatsWildcardAndLongerWildcardBeatsShorter) {
  ASSERT_OK(table_->put("*.example.com", route_to("127.0.0.1:1")));
  ASSERT_OK(table_->put("*.b.example.com", route_to("127.0.0.1:2")));
  ASSERT_OK(table_->put("a.b.example.com", route_to("127.0.0.1:3")));
  EXPECT_EQ(lookup("a.b.example.com"), "127.0.0.1:3");
  EXPECT_EQ(lookup("x.b.example.com"), "127.0.0.1:2");
  EXPECT_EQ(lookup("y.x.b.example.com"), "127.0.0.1:2");
  EXPECT_EQ(lookup("x.example.com"), "127.0.0.1:1");
  EXPECT_EQ(lookup("c.d.example.com"), "127.0.0.1:1");
  // A wildcard matches at least one label, not the bare suffix.
  EXPECT_EQ(lookup("example.com"), "");
  EXPECT_EQ(lookup("b.example.com"), "127.0.0.1:1");
  EXPECT_EQ(lookup("example.org"), "");
  ASSERT_OK(table_->remove("*.b.example.com"));
  EXPECT_EQ(lookup("x.b.example.com"), "127.0.0.1:1");
}

TEST_F(RouteTableTest, LookupIsExactOnKeys) {
  ASSERT_OK(table_->put("app.test", route_to("127.0.0.1:1")));
  EXPECT_EQ(lookup("APP.test"), "");  // callers normalise first
  EXPECT_EQ(lookup("app.test."), "");
  EXPECT_EQ(lookup("pp.test"), "");
  EXPECT_EQ(lookup(""), "");
  EXPECT_EQ(lookup(std::string(300, 'a')), "");
}

TEST_F(RouteTableTest, ReaderSeesChangesMadeAfterItWasCreated) {
  auto reader = table_->make_reader();
  ASSERT_OK(reader);
  Route route;
  EXPECT_EQ(reader->lookup("late.test", route), LookupStatus::kNotFound);
  ASSERT_OK(table_->put("late.test", route_to("127.0.0.1:7")));
  ASSERT_EQ(reader->lookup("late.test", route), LookupStatus::kFound);
  EXPECT_EQ(target_of(route), "127.0.0.1:7");
  ASSERT_OK(table_->put("late.test", route_to("127.0.0.1:8")));
  ASSERT_EQ(reader->lookup("late.test", route), LookupStatus::kFound);
  EXPECT_EQ(target_of(route), "127.0.0.1:8");
  ASSERT_OK(table_->remove("late.test"));
  EXPECT_EQ(reader->lookup("late.test", route), LookupStatus::kNotFound);
}

TEST_F(RouteTableTest, LookupDoesNotAllocate) {
  ASSERT_OK(table_->put("*.example.com", route_to("127.0.0.1:1")));
  ASSERT_OK(table_->put("exact.example.com", route_to("127.0.0.1:2")));
  auto reader = table_->make_reader();
  ASSERT_OK(reader);
  Route route;
  for (const char* host : {"exact.example.com", "a.b.example.com", "nowhere.test"}) {
    LookupStatus status = LookupStatus::kError;
    long allocations = testing::allocations_during([&] { status = reader->lookup(host, route); });
    EXPECT_NE(status, LookupStatus::kError) << host;
    EXPECT_EQ(allocations, 0) << host;
  }
}

TEST_F(RouteTableTest, MovedReaderKeepsWorking) {
  ASSERT_OK(table_->put("app.test", route_to("127.0.0.1:9")));
  auto made = table_->make_reader();
  ASSERT_OK(made);
  RouteTable::Reader reader = std::move(made.value());
  RouteTable::Reader other = std::move(reader);
  Route route;
  EXPECT_EQ(other.lookup("app.test", route), LookupStatus::kFound);
}

TEST_F(RouteTableTest, ListIsSortedByHost) {
  ASSERT_OK(table_->put("b.test", route_to("127.0.0.1:2", "hb")));
  ASSERT_OK(table_->put("a.test", route_to("127.0.0.1:1", "ha")));
  auto listed = table_->list();
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].first, "a.test");
  EXPECT_EQ((*listed)[0].second.home_id(), "ha");
  EXPECT_EQ((*listed)[1].first, "b.test");
}

TEST_F(RouteTableTest, ReplaceAllSwapsTheWholeTable) {
  ASSERT_OK(table_->put("old.test", route_to("127.0.0.1:1")));
  std::vector<std::pair<std::string, Route>> routes = {{"new1.test", route_to("127.0.0.1:2")},
                                                       {"new2.test", route_to("127.0.0.1:3")}};
  ASSERT_OK(table_->replace_all(routes));
  EXPECT_EQ(lookup("old.test"), "");
  EXPECT_EQ(lookup("new1.test"), "127.0.0.1:2");
  EXPECT_EQ(lookup("new2.test"), "127.0.0.1:3");
}

TEST_F(RouteTableTest, ReplaceAllWithABadHostChangesNothing) {
  ASSERT_OK(table_->put("keep.test", route_to("127.0.0.1:1")));
  std::vector<std::pair<std::string, Route>> routes = {{"fine.test", route_to("127.0.0.1:2")},
                                                       {"Bad.test", route_to("127.0.0.1:3")}};
  EXPECT_ERR(table_->replace_all(routes));
  EXPECT_EQ(lookup("keep.test"), "127.0.0.1:1");
  EXPECT_EQ(lookup("fine.test"), "");
}

// A reader listing while a writer alternates between two whole tables must always see one
// table or the other, never a mix. Bounded by iteration counts, not by time.
TEST_F(RouteTableTest, ReplaceAllIsAtomicForConcurrentReaders) {
  auto make_set = [](std::string_view home) {
    std::vector<std::pair<std::string, Route>> routes;
    for (int i = 0; i < 50; ++i) {
      routes.emplace_back("h" + std::to_string(i) + ".test", route_to("127.0.0.1:1", home));
    }
    return routes;
  };
  auto set_a = make_set("a");
  auto set_b = make_set("b");
  ASSERT_OK(table_->replace_all(set_a));
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 200; ++i) {
      EXPECT_OK(table_->replace_all(i % 2 == 0 ? set_b : set_a));
    }
    done = true;
  });
  int mixed = 0;
  int lists = 0;
  while (!done || lists == 0) {
    auto listed = table_->list();
    ASSERT_OK(listed);
    ++lists;
    ASSERT_EQ(listed->size(), 50u);
    std::string_view first = (*listed)[0].second.home_id();
    for (const auto& entry : *listed) mixed += entry.second.home_id() != first ? 1 : 0;
  }
  writer.join();
  EXPECT_EQ(mixed, 0);
}

TEST(RouteTableOpen, ReadonlyCreatesAMissingEnvironmentEmpty) {
  TempDir dir;
  std::string data = dir.path() + "/not-yet";
  auto table = RouteTable::open_readonly(data);
  ASSERT_OK(table);
  EXPECT_TRUE(std::filesystem::exists(data + "/routes/data.mdb"));
  auto reader = table->make_reader();
  ASSERT_OK(reader);
  Route route;
  EXPECT_EQ(reader->lookup("app.test", route), LookupStatus::kNotFound);
  auto listed = table->list();
  ASSERT_OK(listed);
  EXPECT_TRUE(listed->empty());
}

TEST(RouteTableOpen, ReadonlySeesWhatAWriterCommitted) {
  TempDir dir;
  {
    auto writer = RouteTable::open_writable(dir.path());
    ASSERT_OK(writer);
    ASSERT_OK(writer->put("app.test", route_to("127.0.0.1:5")));
  }
  auto table = RouteTable::open_readonly(dir.path());
  ASSERT_OK(table);
  auto reader = table->make_reader();
  ASSERT_OK(reader);
  Route route;
  ASSERT_EQ(reader->lookup("app.test", route), LookupStatus::kFound);
  EXPECT_EQ(target_of(route), "127.0.0.1:5");
  EXPECT_ERR(table->put("x.test", route_to("127.0.0.1:6")));
}

TEST(RouteTableOpen, UnwritableDataDirFails) {
  EXPECT_ERR(RouteTable::open_writable("/proc/self/cloudlink-no-such-dir"));
}

// The dataplane's situation: a read-only table shared by worker threads that look names up
// without pause, while control (here the writable table, its own map) fills its map and grows
// it past the readers' map. Every lookup must succeed (the readers remap on MDB_MAP_RESIZED
// with every other lookup paused), and the new routes must become visible.
TEST(RouteTableGrowth, ReadersFollowAGrowingMapWhileLookingUpOnManyThreads) {
  TempDir dir;
  auto writer = RouteTable::open_writable(dir.path(), MapLimits{128 * 1024, 64 * 1024 * 1024});
  ASSERT_OK(writer);
  ASSERT_OK(writer->put("fixed.test", route_to("127.0.0.1:7")));
  auto readonly = RouteTable::open_readonly(dir.path());
  ASSERT_OK(readonly);
  const size_t reader_map = readonly->usage().map_bytes;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> lookups{0};
  std::atomic<uint64_t> errors{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      auto reader = readonly->make_reader();
      if (!reader) {
        ADD_FAILURE() << reader.error().message();
        errors++;
        return;
      }
      Route route;
      while (!stop.load()) {
        if (reader->lookup("fixed.test", route) != LookupStatus::kFound) {
          ADD_FAILURE() << reader->last_error();
          errors++;
        }
        lookups++;
      }
    });
  }
  // Batches of long names until the writer's map has grown several times.
  int batches = 0;
  while (writer->usage().growths < 4 && batches < 2000) {
    std::vector<std::pair<std::string, Route>> puts;
    for (int i = 0; i < 50; ++i) {
      puts.emplace_back("b" + std::to_string(batches) + "-" + std::to_string(i) + "." +
                            std::string(60, 'x') + ".test",
                        route_to("127.0.0.1:8"));
    }
    ASSERT_OK(writer->write([&]() -> Result<RouteTable::Batch> {
      return RouteTable::Batch{false, puts, {}};
    }));
    ++batches;
  }
  // The readers see the newest batch, through a map grown past the one they opened with.
  std::string newest = "b" + std::to_string(batches - 1) + "-49." + std::string(60, 'x') + ".test";
  auto reader = readonly->make_reader();
  ASSERT_OK(reader);
  Route route;
  EXPECT_EQ(reader->lookup(newest, route), LookupStatus::kFound) << reader->last_error();
  stop = true;
  for (auto& t : workers) t.join();
  EXPECT_GE(writer->usage().growths, 4u);
  EXPECT_GT(writer->usage().map_bytes, reader_map);
  EXPECT_GT(readonly->usage().map_bytes, reader_map);
  EXPECT_GT(lookups.load(), 0u);
  EXPECT_EQ(errors.load(), 0u);
}

TEST(RouteTableGrowth, AFullMapAtItsMaximumIsAnErrorAndKeepsWhatWasCommitted) {
  TempDir dir;
  auto table = RouteTable::open_writable(dir.path(), MapLimits{128 * 1024, 256 * 1024});
  ASSERT_OK(table);
  Result<void> last = ok();
  size_t committed = 0;
  for (int batch = 0; batch < 1000 && last.ok(); ++batch) {
    RouteTable::Batch puts;
    for (int i = 0; i < 20; ++i) {
      puts.puts.emplace_back("n" + std::to_string(batch) + "-" + std::to_string(i) + "." +
                                 std::string(60, 'y') + ".test",
                             route_to("127.0.0.1:9"));
    }
    last = table->write([&]() -> Result<RouteTable::Batch> { return puts; });
    if (last) committed += puts.puts.size();
  }
  ASSERT_FALSE(last.ok());
  EXPECT_ERR_WITH(last, "map-size-max");
  auto listed = table->list();
  ASSERT_OK(listed);
  EXPECT_EQ(listed->size(), committed);
  EXPECT_EQ(table->usage().map_bytes, 256u * 1024);
}

}  // namespace
}  // namespace cloudlink
