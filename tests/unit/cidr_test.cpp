// Trusted-network lists: parsing (host bits, prefix lengths) and matching v4, v6, v4-mapped.
#include "common/cidr.h"

#include <gtest/gtest.h>

namespace cloudlink {
namespace {

SocketAddress at(const char* text) { return *SocketAddress::parse(text); }

TEST(Cidr, ParsesNetworksAndHosts) {
  EXPECT_EQ(Cidr::parse("10.0.0.0/8")->to_string(), "10.0.0.0/8");
  EXPECT_EQ(Cidr::parse("192.0.2.7")->to_string(), "192.0.2.7/32");
  EXPECT_EQ(Cidr::parse("2001:db8::/32")->to_string(), "2001:db8::/32");
  EXPECT_EQ(Cidr::parse("::1")->to_string(), "::1/128");
  EXPECT_EQ(Cidr::parse("0.0.0.0/0")->to_string(), "0.0.0.0/0");
}

TEST(Cidr, RefusesBadInputNamingIt) {
  for (const char* text : {"", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/08", "10.0.0/8",
                           "10.0.0.0/8x", "host.example/8", "10.0.0.0/-1", "1.2.3.4/1234"}) {
    SCOPED_TRACE(text);
    auto parsed = Cidr::parse(text);
    ASSERT_FALSE(parsed.ok());
    EXPECT_NE(parsed.error().message().find(text), std::string::npos);
  }
  auto host_bits = Cidr::parse("10.1.0.0/8");
  ASSERT_FALSE(host_bits.ok());
  EXPECT_NE(host_bits.error().message().find("10.0.0.0/8"), std::string::npos);
}

TEST(Cidr, Matches) {
  auto net = *Cidr::parse("10.0.0.0/8");
  EXPECT_TRUE(net.contains(at("10.255.1.2:80")));
  EXPECT_FALSE(net.contains(at("11.0.0.1:80")));
  EXPECT_TRUE(net.contains(at("[::ffff:10.1.2.3]:80")));  // dual-stack listener
  EXPECT_FALSE(net.contains(at("[::10.1.2.3]:80")));
  auto odd = *Cidr::parse("192.0.2.128/25");
  EXPECT_TRUE(odd.contains(at("192.0.2.200:1")));
  EXPECT_FALSE(odd.contains(at("192.0.2.127:1")));
  auto v6 = *Cidr::parse("2001:db8::/32");
  EXPECT_TRUE(v6.contains(at("[2001:db8:ffff::1]:443")));
  EXPECT_FALSE(v6.contains(at("[2001:db9::1]:443")));
  EXPECT_FALSE(v6.contains(at("10.0.0.1:443")));
  auto all = *Cidr::parse("0.0.0.0/0");
  EXPECT_TRUE(all.contains(at("1.2.3.4:5")));
  EXPECT_FALSE(all.contains(SocketAddress()));
}

}  // namespace
}  // namespace cloudlink
