// PROXY v1 lines and the v1/v2 dispatcher: valid lines, every prefix, malformed and oversized.
#include "common/proxy_v1.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "allocation_counter.h"

namespace cloudlink {
namespace {

std::span<const uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

ProxyParseStatus v1(std::string_view text, ProxyV2Header& out, const char** error = nullptr) {
  return decode_proxy_v1(bytes_of(text), out, error);
}

TEST(ProxyV1, Tcp4) {
  const std::string line = "PROXY TCP4 203.0.113.7 198.51.100.1 51234 443\r\n";
  ProxyV2Header h;
  ASSERT_EQ(v1(line + "\x16\x03\x01", h), ProxyParseStatus::kComplete);
  EXPECT_EQ(h.length, line.size());
  EXPECT_FALSE(h.local_command);
  EXPECT_EQ(h.source.to_string(), "203.0.113.7:51234");
  EXPECT_EQ(h.destination.to_string(), "198.51.100.1:443");
}

TEST(ProxyV1, Tcp6AndUnknown) {
  ProxyV2Header h;
  ASSERT_EQ(v1("PROXY TCP6 2001:db8::1 ::1 0 65535\r\n", h), ProxyParseStatus::kComplete);
  EXPECT_EQ(h.source.to_string(), "[2001:db8::1]:0");
  EXPECT_EQ(h.destination.to_string(), "[::1]:65535");
  ASSERT_EQ(v1("PROXY UNKNOWN\r\n", h), ProxyParseStatus::kComplete);
  EXPECT_TRUE(h.local_command);
  EXPECT_EQ(h.length, 15u);
  ASSERT_EQ(v1("PROXY UNKNOWN ffff::1 ::1 1 2\r\n", h), ProxyParseStatus::kComplete);
  EXPECT_TRUE(h.local_command);
}

TEST(ProxyV1, LongestLinesAreAccepted) {
  const std::string all_f = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  const std::string tcp6 = "PROXY TCP6 " + all_f + " " + all_f + " 65535 65535\r\n";
  const std::string unknown = "PROXY UNKNOWN " + all_f + " " + all_f + " 65535 65535\r\n";
  ASSERT_EQ(unknown.size(), kProxyV1MaxLength);  // the spec's worst case
  ProxyV2Header h;
  EXPECT_EQ(v1(tcp6, h), ProxyParseStatus::kComplete);
  EXPECT_EQ(h.length, tcp6.size());
  EXPECT_EQ(v1(unknown, h), ProxyParseStatus::kComplete);
  EXPECT_EQ(h.length, kProxyV1MaxLength);
}

TEST(ProxyV1, EveryPrefixNeedsMore) {
  const std::string line = "PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n";
  ProxyV2Header h;
  for (size_t n = 0; n < line.size(); ++n) {
    SCOPED_TRACE(n);
    EXPECT_EQ(v1(line.substr(0, n), h), ProxyParseStatus::kNeedMore);
  }
}

TEST(ProxyV1, Malformed) {
  const char* cases[] = {
      "GET / HTTP/1.1\r\n",
      "PROXY\r\n",
      "proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n",
      "PROXY TCP4\r\n",
      "PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n",
      "PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n",
      "PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n",
      "PROXY TCP4 1.2.3.4 1.2.3.4 1 2 \r\n",
      "PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n",
      "PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n",
      "PROXY TCP4 1.2.3.4 1.2.3.4 1 2\r\r\n",
      "PROXY TCP4 ::1 1.2.3.4 1 2\r\n",
      "PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
      "PROXY TCP4 1.2.3 1.2.3.4 1 2\r\n",
      "PROXY TCP4 1.2.3.256 1.2.3.4 1 2\r\n",
      "PROXY TCP4 01.2.3.4 1.2.3.4 1 2\r\n",
      "PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n",
      "PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n",
      "PROXY TCP4 1.2.3.4 1.2.3.4 -1 2\r\n",
      "PROXY TCP4 1.2.3.4 1.2.3.4 1 2x\r\n",
      "PROXY TCP4 1.2.3.4\t1.2.3.4 1 2\r\n",
      "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",
  };
  for (const char* line : cases) {
    SCOPED_TRACE(line);
    ProxyV2Header h;
    const char* error = nullptr;
    EXPECT_EQ(v1(line, h, &error), ProxyParseStatus::kInvalid);
    EXPECT_NE(error, nullptr);
  }
}

TEST(ProxyV1, OversizedLineWithoutEnd) {
  ProxyV2Header h;
  std::string line = "PROXY TCP4 " + std::string(200, '1');
  EXPECT_EQ(v1(line, h), ProxyParseStatus::kInvalid);
  EXPECT_EQ(v1(line.substr(0, kProxyV1MaxLength - 1), h), ProxyParseStatus::kNeedMore);
  EXPECT_EQ(v1(line.substr(0, kProxyV1MaxLength), h), ProxyParseStatus::kInvalid);
  // The end of line past 107 bytes does not count.
  EXPECT_EQ(v1("PROXY UNKNOWN " + std::string(100, 'x') + "\r\n", h), ProxyParseStatus::kInvalid);
}

TEST(ProxyHeader, DispatchesOnTheFirstByte) {
  ProxyV2Header h;
  const char* error = nullptr;
  EXPECT_EQ(decode_proxy_header(bytes_of("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), 1024, h, &error),
            ProxyParseStatus::kComplete);
  EXPECT_EQ(h.source.to_string(), "1.2.3.4:1");

  uint8_t v2[kProxyV2MaxHeaderLength];
  const size_t n =
      encode_proxy_v2(*SocketAddress::parse("9.8.7.6:5"), *SocketAddress::parse("1.1.1.1:443"),
                      std::span<uint8_t, kProxyV2MaxHeaderLength>(v2));
  EXPECT_EQ(decode_proxy_header({v2, n}, 1024, h, &error), ProxyParseStatus::kComplete);
  EXPECT_EQ(h.source.to_string(), "9.8.7.6:5");
  EXPECT_EQ(h.length, n);
  EXPECT_EQ(decode_proxy_header({v2, 5}, 1024, h, &error), ProxyParseStatus::kNeedMore);
  EXPECT_EQ(decode_proxy_header({}, 1024, h, &error), ProxyParseStatus::kNeedMore);

  EXPECT_EQ(decode_proxy_header(bytes_of("\x16\x03\x01"), 1024, h, &error),
            ProxyParseStatus::kInvalid);
  EXPECT_EQ(decode_proxy_header(bytes_of("GET /"), 1024, h, &error), ProxyParseStatus::kInvalid);
}

TEST(ProxyHeader, V2LongerThanTheCapIsRefusedBeforeItsBody) {
  uint8_t v2[16] = {
      0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51,
      0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0x10, 0x00};  // PROXY TCP4, 4096 address bytes declared
  ProxyV2Header h;
  const char* error = nullptr;
  EXPECT_EQ(decode_proxy_header({v2, 16}, 1024, h, &error), ProxyParseStatus::kInvalid);
  EXPECT_STREQ(error, "PROXY v2: header longer than accepted");
  EXPECT_EQ(decode_proxy_header({v2, 16}, 16 + 4096, h, &error), ProxyParseStatus::kNeedMore);
  v2[0] = 0x0E;  // not the signature: that is the error, not the length
  EXPECT_EQ(decode_proxy_header({v2, 16}, 1024, h, &error), ProxyParseStatus::kInvalid);
}

TEST(ProxyV1, AllocatesNothing) {
  ProxyV2Header h;
  const std::string line = "PROXY TCP6 2001:db8::1 ::1 0 65535\r\n";
  long allocations = testing::allocations_during([&] { (void)v1(line, h); });
  EXPECT_EQ(allocations, 0);
}

}  // namespace
}  // namespace cloudlink
