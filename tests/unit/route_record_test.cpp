#include "common/route_record.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "allocation_counter.h"
#include "test_result.h"

namespace cloudlink {
namespace {

SocketAddress addr(const char* text) { return SocketAddress::parse(text).value(); }

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void expect_same_route(const Route& a, const Route& b) {
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.home_id(), b.home_id());
  ASSERT_EQ(a.targets().size(), b.targets().size());
  for (size_t i = 0; i < a.targets().size(); ++i) EXPECT_EQ(a.targets()[i], b.targets()[i]);
  EXPECT_EQ(a.http_target, b.http_target);
}

// A route exercising both families, a flag, an HTTP target and a non-trivial home id.
Route sample_route() {
  std::vector<SocketAddress> targets = {addr("127.0.0.1:40001"), addr("[::1]:40002"),
                                        addr("10.0.0.1:65535")};
  return make_route("home-42", kRouteProxyV2, targets, addr("127.0.0.1:40080")).value();
}

TEST(RouteRecord, RoundTrip) {
  Route route = sample_route();
  std::string encoded = encode_route(route);
  auto decoded = decode_route(bytes_of(encoded));
  ASSERT_OK(decoded);
  expect_same_route(route, decoded.value());
  EXPECT_EQ(encode_route(decoded.value()), encoded);
}

TEST(RouteRecord, RoundTripAtTheLimits) {
  std::vector<SocketAddress> targets;
  for (size_t i = 0; i < kMaxRouteTargets; ++i) {
    targets.push_back(addr(("[2001:db8::" + std::to_string(i + 1) + "]:443").c_str()));
  }
  std::string home(kMaxHomeIdLength, 'h');
  auto route = make_route(home, kRouteProxyV2 | kRouteRedirectHttps, targets, addr("[::2]:80"));
  ASSERT_OK(route);
  auto decoded = decode_route(bytes_of(encode_route(route.value())));
  ASSERT_OK(decoded);
  expect_same_route(route.value(), decoded.value());
}

TEST(RouteRecord, DecodeDoesNotAllocate) {
  std::string encoded = encode_route(sample_route());
  bool ok = false;
  long allocations =
      testing::allocations_during([&] { ok = decode_route(bytes_of(encoded)).ok(); });
  EXPECT_TRUE(ok);
  EXPECT_EQ(allocations, 0);
  // The counter does see allocations: an error message is a std::string.
  EXPECT_GT(testing::allocations_during([&] { ok = decode_route(bytes_of("\x07")).ok(); }), 0);
}

TEST(RouteRecord, HttpOnlyRouteHasNoTlsTargets) {
  auto route = make_route("h", 0, {}, addr("127.0.0.1:8080"));
  ASSERT_OK(route);
  auto decoded = decode_route(bytes_of(encode_route(route.value())));
  ASSERT_OK(decoded);
  EXPECT_EQ(decoded->targets().size(), 0u);
  EXPECT_EQ(decoded->http_target, addr("127.0.0.1:8080"));
}

TEST(RouteRecord, VersionByteComesFirst) {
  std::string encoded = encode_route(sample_route());
  ASSERT_FALSE(encoded.empty());
  EXPECT_EQ(encoded[0], 1);
}

TEST(RouteRecord, MakeRouteRejectsBadFields) {
  std::vector<SocketAddress> one = {addr("127.0.0.1:1")};
  std::vector<SocketAddress> too_many(kMaxRouteTargets + 1, addr("127.0.0.1:1"));
  EXPECT_ERR_WITH(make_route("", 0, one), "home id is empty");
  EXPECT_ERR_WITH(make_route(std::string(kMaxHomeIdLength + 1, 'h'), 0, one), "home id");
  EXPECT_ERR_WITH(make_route("bad home", 0, one), "home id");
  EXPECT_ERR_WITH(make_route("h", 0, too_many), "more than 16");
  EXPECT_ERR_WITH(make_route("h", 0, {}), "no targets");
  EXPECT_ERR_WITH(make_route("h", 1u << 31, one), "flags");
  std::vector<SocketAddress> empty_target = {SocketAddress()};
  EXPECT_ERR(make_route("h", 0, empty_target));
}

TEST(RouteRecord, EveryTruncationFails) {
  std::string encoded = encode_route(sample_route());
  for (size_t length = 0; length < encoded.size(); ++length) {
    // A copy of exactly `length` bytes so ASan sees any read past the end.
    std::vector<uint8_t> prefix(encoded.begin(), encoded.begin() + length);
    EXPECT_ERR(decode_route(prefix)) << "length " << length;
  }
}

TEST(RouteRecord, TrailingBytesFail) {
  std::string encoded = encode_route(sample_route());
  EXPECT_ERR_WITH(decode_route(bytes_of(encoded + '\0')), "trailing");
  EXPECT_ERR_WITH(decode_route(bytes_of(encoded + "xyz")), "trailing");
}

TEST(RouteRecord, UnknownVersionFails) {
  std::string encoded = encode_route(sample_route());
  for (int version : {0, 2, 255}) {
    encoded[0] = static_cast<char>(version);
    EXPECT_ERR_WITH(decode_route(bytes_of(encoded)), "version");
  }
}

// Offsets from the layout comment in route_record.cpp.
constexpr size_t kFlags = 1;
constexpr size_t kTargetCount = 5;
constexpr size_t kHomeLength = 6;
constexpr size_t kHome = 7;

TEST(RouteRecord, CountsAboveLimitsFail) {
  std::string encoded = encode_route(sample_route());
  std::string bad = encoded;
  bad[kTargetCount] = static_cast<char>(kMaxRouteTargets + 1);
  EXPECT_ERR_WITH(decode_route(bytes_of(bad)), "more than 16");
  bad = encoded;
  bad[kTargetCount] = static_cast<char>(255);
  EXPECT_ERR(decode_route(bytes_of(bad)));
  bad = encoded;
  bad[kHomeLength] = static_cast<char>(kMaxHomeIdLength + 1);
  EXPECT_ERR_WITH(decode_route(bytes_of(bad)), "home id length");
  bad[kHomeLength] = 0;
  EXPECT_ERR_WITH(decode_route(bytes_of(bad)), "home id length");
}

TEST(RouteRecord, BadFieldsFail) {
  Route route = make_route("h", 0, std::vector<SocketAddress>{addr("1.2.3.4:80")}).value();
  std::string encoded = encode_route(route);
  // version, flags(4), count=1, home_length=1, 'h', [4][port lo][port hi][ip x4], [0]
  ASSERT_EQ(encoded.size(), kHome + 1 + 7 + 1);
  const size_t target = kHome + 1;

  std::string bad = encoded;
  bad[kFlags + 3] = static_cast<char>(0x80);
  EXPECT_ERR_WITH(decode_route(bytes_of(bad)), "flag");

  bad = encoded;
  bad[kHome] = ' ';
  EXPECT_ERR_WITH(decode_route(bytes_of(bad)), "home id");

  for (int family : {0, 1, 2, 5, 10, 255}) {
    bad = encoded;
    bad[target] = static_cast<char>(family);
    EXPECT_ERR(decode_route(bytes_of(bad))) << "family " << family;
  }

  bad = encoded;
  bad[target + 1] = 0;
  bad[target + 2] = 0;
  EXPECT_ERR_WITH(decode_route(bytes_of(bad)), "port 0");

  bad = encoded;
  bad.back() = 9;  // http target family
  EXPECT_ERR_WITH(decode_route(bytes_of(bad)), "address family");

  // Port is little-endian: 80 = 0x50 0x00.
  EXPECT_EQ(static_cast<uint8_t>(encoded[target + 1]), 0x50);
  EXPECT_EQ(static_cast<uint8_t>(encoded[target + 2]), 0x00);
}

TEST(RouteRecord, NoTargetsAtAllFails) {
  Route route = make_route("h", 0, std::vector<SocketAddress>{addr("1.2.3.4:80")}).value();
  std::string encoded = encode_route(route);
  // Drop the single target: count 0, no http target.
  std::string bad = encoded.substr(0, kHome + 1) + '\0';
  bad[kTargetCount] = 0;
  EXPECT_ERR_WITH(decode_route(bytes_of(bad)), "no targets");
}

// Random corruption: decode must never crash, and whatever it accepts must re-encode to the
// same bytes (the encoding is canonical).
TEST(RouteRecord, CorruptedRecordsDecodeCleanlyOrFail) {
  std::string encoded = encode_route(sample_route());
  std::mt19937 rng(12345);
  size_t accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string mutated = encoded;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 3) {
        case 0:
          mutated[rng() % mutated.size()] = static_cast<char>(rng());
          break;
        case 1:
          mutated.resize(rng() % (mutated.size() + 1));
          if (mutated.empty()) mutated.push_back(1);
          break;
        default:
          mutated.insert(mutated.begin() + static_cast<long>(rng() % mutated.size()),
                         static_cast<char>(rng()));
          break;
      }
    }
    std::vector<uint8_t> copy(mutated.begin(), mutated.end());
    auto decoded = decode_route(copy);
    if (decoded) {
      ++accepted;
      EXPECT_EQ(encode_route(decoded.value()), mutated);
    }
  }
  // Some single-byte edits (an address byte, a port byte) are still valid records.
  EXPECT_GT(accepted, 0u);
}

}  // namespace
}  // namespace cloudlink
