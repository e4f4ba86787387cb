#include "common/proxy_v2.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "allocation_counter.h"

namespace cloudlink {
namespace {

SocketAddress addr(const char* text) { return SocketAddress::parse(text).value(); }

const std::vector<uint8_t> kSignature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

std::vector<uint8_t> encode(const char* client, const char* local) {
  std::array<uint8_t, kProxyV2MaxHeaderLength> out{};
  size_t length = encode_proxy_v2(addr(client), addr(local), out);
  return {out.begin(), out.begin() + static_cast<long>(length)};
}

ProxyParseStatus decode(const std::vector<uint8_t>& bytes, ProxyV2Header& header,
                        const char** error = nullptr) {
  return decode_proxy_v2(bytes, header, error);
}

TEST(ProxyV2Encode, Ipv4MatchesTheSpecLayout) {
  std::vector<uint8_t> bytes = encode("192.0.2.1:51234", "198.51.100.7:443");
  std::vector<uint8_t> expected = kSignature;
  const uint8_t rest[] = {0x21, 0x11, 0x00, 0x0C,   // PROXY, TCP4, 12 address bytes
                          192,  0,    2,    1,      // source address
                          198,  51,   100,  7,      // destination address
                          0xC8, 0x22, 0x01, 0xBB};  // ports 51234, 443 (big-endian)
  expected.insert(expected.end(), std::begin(rest), std::end(rest));
  EXPECT_EQ(bytes, expected);
  EXPECT_EQ(bytes.size(), 28u);
}

TEST(ProxyV2Encode, Ipv6MatchesTheSpecLayout) {
  std::vector<uint8_t> bytes = encode("[2001:db8::1]:1000", "[::1]:443");
  ASSERT_EQ(bytes.size(), 52u);
  EXPECT_TRUE(std::equal(kSignature.begin(), kSignature.end(), bytes.begin()));
  EXPECT_EQ(bytes[12], 0x21);
  EXPECT_EQ(bytes[13], 0x21);
  EXPECT_EQ(bytes[14], 0x00);
  EXPECT_EQ(bytes[15], 36);
  EXPECT_EQ(bytes[16], 0x20);
  EXPECT_EQ(bytes[17], 0x01);
  EXPECT_EQ(bytes[31], 0x01);
  EXPECT_EQ(bytes[47], 0x01);  // ::1
  EXPECT_EQ(bytes[48], 1000 >> 8);
  EXPECT_EQ(bytes[49], 1000 & 0xff);
  EXPECT_EQ(bytes[50], 443 >> 8);
  EXPECT_EQ(bytes[51], 443 & 0xff);
}

TEST(ProxyV2Encode, MixedFamiliesUseV4MappedIpv6) {
  std::vector<uint8_t> bytes = encode("192.0.2.1:5000", "[::1]:443");
  ASSERT_EQ(bytes.size(), 52u);
  EXPECT_EQ(bytes[13], 0x21);
  const uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
  EXPECT_TRUE(std::equal(std::begin(mapped), std::end(mapped), bytes.begin() + 16));
  ProxyV2Header header;
  ASSERT_EQ(decode(bytes, header), ProxyParseStatus::kComplete);
  EXPECT_EQ(header.source, addr("[::ffff:192.0.2.1]:5000"));
}

TEST(ProxyV2Encode, EmptyAddressWritesNothing) {
  std::array<uint8_t, kProxyV2MaxHeaderLength> out{};
  EXPECT_EQ(encode_proxy_v2(SocketAddress(), addr("1.2.3.4:1"), out), 0u);
  EXPECT_EQ(encode_proxy_v2(addr("1.2.3.4:1"), SocketAddress(), out), 0u);
}

TEST(ProxyV2Decode, RoundTrip) {
  const std::pair<const char*, const char*> cases[] = {
      {"192.0.2.1:51234", "198.51.100.7:443"},
      {"[2001:db8::1]:1000", "[::1]:443"},
      {"10.0.0.1:65535", "10.0.0.2:1"},
  };
  for (const auto& [client, local] : cases) {
    std::vector<uint8_t> bytes = encode(client, local);
    ProxyV2Header header;
    ASSERT_EQ(decode(bytes, header), ProxyParseStatus::kComplete) << client;
    EXPECT_FALSE(header.local_command);
    EXPECT_EQ(header.source, addr(client));
    EXPECT_EQ(header.destination, addr(local));
    EXPECT_EQ(header.length, bytes.size());
  }
}

TEST(ProxyV2, EncodeAndDecodeDoNotAllocate) {
  SocketAddress client = addr("[2001:db8::1]:1000");
  SocketAddress local = addr("192.0.2.1:443");
  std::array<uint8_t, kProxyV2MaxHeaderLength> out{};
  ProxyV2Header header;
  ProxyParseStatus status = ProxyParseStatus::kInvalid;
  long allocations = testing::allocations_during([&] {
    size_t length = encode_proxy_v2(client, local, out);
    status = decode_proxy_v2(std::span<const uint8_t>(out.data(), length), header, nullptr);
  });
  EXPECT_EQ(status, ProxyParseStatus::kComplete);
  EXPECT_EQ(allocations, 0);
}

TEST(ProxyV2Decode, FollowingBytesAreNotPartOfTheHeader) {
  std::vector<uint8_t> bytes = encode("192.0.2.1:1", "192.0.2.2:2");
  size_t header_length = bytes.size();
  bytes.insert(bytes.end(), {0x16, 0x03, 0x01});  // a ClientHello starts here
  ProxyV2Header header;
  ASSERT_EQ(decode(bytes, header), ProxyParseStatus::kComplete);
  EXPECT_EQ(header.length, header_length);
}

TEST(ProxyV2Decode, EveryTruncationNeedsMore) {
  for (const auto& bytes : {encode("192.0.2.1:1", "192.0.2.2:2"), encode("[::1]:1", "[::2]:2")}) {
    for (size_t length = 0; length < bytes.size(); ++length) {
      std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<long>(length));
      ProxyV2Header header;
      EXPECT_EQ(decode(prefix, header), ProxyParseStatus::kNeedMore) << "length " << length;
    }
  }
}

TEST(ProxyV2Decode, TlvsAreSkipped) {
  std::vector<uint8_t> bytes = encode("192.0.2.1:1", "192.0.2.2:2");
  bytes[15] = 12 + 5;
  bytes.insert(bytes.end(), {0x04, 0x00, 0x02, 0xAA, 0xBB});  // PP2_TYPE_NOOP
  ProxyV2Header header;
  ASSERT_EQ(decode(bytes, header), ProxyParseStatus::kComplete);
  EXPECT_EQ(header.length, 33u);
  EXPECT_EQ(header.source, addr("192.0.2.1:1"));
  bytes.pop_back();
  EXPECT_EQ(decode(bytes, header), ProxyParseStatus::kNeedMore);
}

TEST(ProxyV2Decode, LocalCommandCarriesNoAddresses) {
  std::vector<uint8_t> bytes = kSignature;
  bytes.insert(bytes.end(), {0x20, 0x00, 0x00, 0x00});
  ProxyV2Header header;
  ASSERT_EQ(decode(bytes, header), ProxyParseStatus::kComplete);
  EXPECT_TRUE(header.local_command);
  EXPECT_TRUE(header.source.empty());
  EXPECT_EQ(header.length, 16u);
}

TEST(ProxyV2Decode, BadSignatureIsInvalidEarly) {
  std::vector<uint8_t> bytes = encode("192.0.2.1:1", "192.0.2.2:2");
  for (size_t i = 0; i < kSignature.size(); ++i) {
    std::vector<uint8_t> bad = bytes;
    bad[i] ^= 0x01;
    ProxyV2Header header;
    const char* error = nullptr;
    EXPECT_EQ(decode(bad, header, &error), ProxyParseStatus::kInvalid) << i;
    EXPECT_NE(error, nullptr);
    // A prefix that already differs is rejected without waiting for more bytes.
    std::vector<uint8_t> prefix(bad.begin(), bad.begin() + static_cast<long>(i + 1));
    EXPECT_EQ(decode(prefix, header), ProxyParseStatus::kInvalid) << i;
  }
  ProxyV2Header header;
  const std::vector<uint8_t> http = {'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P'};
  EXPECT_EQ(decode(http, header), ProxyParseStatus::kInvalid);
}

TEST(ProxyV2Decode, BadVersionCommandFamilyOrLengthIsInvalid) {
  std::vector<uint8_t> good = encode("192.0.2.1:1", "192.0.2.2:2");
  struct Edit {
    size_t offset;
    uint8_t value;
  };
  const Edit edits[] = {
      {12, 0x11},  // version 1
      {12, 0x31},  // version 3
      {12, 0x22},  // command 2
      {12, 0x2F},  // command 15
      {13, 0x12},  // UDP over IPv4
      {13, 0x31},  // UNIX stream
      {13, 0x41},  // family 4
      {15, 11},    // shorter than TCP4 addresses
      {15, 0},
  };
  for (const Edit& edit : edits) {
    std::vector<uint8_t> bad = good;
    bad[edit.offset] = edit.value;
    ProxyV2Header header;
    const char* error = nullptr;
    EXPECT_EQ(decode(bad, header, &error), ProxyParseStatus::kInvalid)
        << "offset " << edit.offset << " value " << int(edit.value);
    EXPECT_NE(error, nullptr);
  }
  std::vector<uint8_t> v6 = encode("[::1]:1", "[::2]:2");
  v6[15] = 35;
  ProxyV2Header header;
  EXPECT_EQ(decode(v6, header), ProxyParseStatus::kInvalid);
}

TEST(ProxyV2Decode, HugeDeclaredLengthWaitsButStaysBounded) {
  std::vector<uint8_t> bytes = encode("192.0.2.1:1", "192.0.2.2:2");
  bytes[14] = 0xFF;
  bytes[15] = 0xFF;
  ProxyV2Header header;
  EXPECT_EQ(decode(bytes, header), ProxyParseStatus::kNeedMore);
  bytes.resize(16 + 65535);
  ASSERT_EQ(decode(bytes, header), ProxyParseStatus::kComplete);
  EXPECT_EQ(header.length, 16u + 65535u);
}

}  // namespace
}  // namespace cloudlink
