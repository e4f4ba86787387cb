// --accept-proxy-from's decision on the first bytes of a connection (common/proxy_accept.h),
// shared by the dataplane and control: trusted peers must send a header, others must not.
#include "common/proxy_accept.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace cloudlink {
namespace {

std::span<const uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

const std::string kV2Local = std::string("\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", 16);

TEST(ProxyAccept, TrustedNetworks) {
  const std::vector<Cidr> trusted = {*Cidr::parse("127.0.0.1/32"), *Cidr::parse("10.0.0.0/8")};
  EXPECT_TRUE(is_trusted_proxy(trusted, *SocketAddress::parse("127.0.0.1:5000")));
  EXPECT_TRUE(is_trusted_proxy(trusted, *SocketAddress::parse("10.9.8.7:1")));
  EXPECT_TRUE(is_trusted_proxy(trusted, *SocketAddress::parse("[::ffff:10.1.1.1]:1")));
  EXPECT_FALSE(is_trusted_proxy(trusted, *SocketAddress::parse("127.0.0.2:5000")));
  EXPECT_FALSE(is_trusted_proxy({}, *SocketAddress::parse("127.0.0.1:5000")));
}

TEST(ProxyAccept, TrustedPeerMustSendAHeader) {
  const std::string line = "PROXY TCP4 203.0.113.7 198.51.100.1 51234 443\r\n";
  auto taken = take_proxy_header(bytes_of(line + "GET / HTTP/1.1\r\n"), true);
  ASSERT_EQ(taken.status, ProxyIntake::kTaken);
  EXPECT_EQ(taken.header.length, line.size());
  const SocketAddress peer = *SocketAddress::parse("127.0.0.1:40000");
  EXPECT_EQ(proxied_client(taken.header, peer).to_string(), "203.0.113.7:51234");
  // Every prefix: more is needed, nothing is refused early.
  for (size_t n = 0; n < line.size(); ++n) {
    EXPECT_EQ(take_proxy_header(bytes_of(line.substr(0, n)), true).status, ProxyIntake::kNeedMore)
        << n;
  }
  // LOCAL keeps the connection's own address.
  auto local = take_proxy_header(bytes_of(kV2Local), true);
  ASSERT_EQ(local.status, ProxyIntake::kTaken);
  EXPECT_EQ(proxied_client(local.header, peer), peer);
  auto unknown = take_proxy_header(bytes_of("PROXY UNKNOWN\r\n"), true);
  ASSERT_EQ(unknown.status, ProxyIntake::kTaken);
  EXPECT_EQ(proxied_client(unknown.header, peer), peer);
  // Missing or malformed: refused, with a reason.
  for (std::string_view bad : {"GET / HTTP/1.1\r\n", "\x16\x03\x01\x02\x00",
                               "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", "PROXY TCP9 x\r\n"}) {
    auto refused = take_proxy_header(bytes_of(bad), true);
    EXPECT_EQ(refused.status, ProxyIntake::kRefused) << bad;
    EXPECT_STRNE(refused.reason, "");
  }
  // A v2 header declaring more than the accepted length is refused from its fixed part.
  std::string huge = kV2Local;
  huge[14] = '\x10';
  EXPECT_EQ(take_proxy_header(bytes_of(huge), true).status, ProxyIntake::kRefused);
}

TEST(ProxyAccept, UntrustedPeerMustNotSendOne) {
  EXPECT_EQ(take_proxy_header(bytes_of("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), false).status,
            ProxyIntake::kRefused);
  EXPECT_EQ(take_proxy_header(bytes_of(kV2Local), false).status, ProxyIntake::kRefused);
  EXPECT_EQ(take_proxy_header(bytes_of("GET / HTTP/1.1\r\n"), false).status,
            ProxyIntake::kNoHeader);
  // Too short to tell: passed on (whatever parses them next refuses a cut-off header).
  EXPECT_EQ(take_proxy_header(bytes_of("PROXY"), false).status, ProxyIntake::kNoHeader);
  EXPECT_EQ(take_proxy_header(bytes_of(""), false).status, ProxyIntake::kNoHeader);
}

}  // namespace
}  // namespace cloudlink
