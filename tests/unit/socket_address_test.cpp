#include "common/socket_address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>

#include "test_result.h"

namespace cloudlink {
namespace {

TEST(SocketAddress, ParsesIpv4) {
  auto address = SocketAddress::parse("127.0.0.1:8443");
  ASSERT_OK(address);
  EXPECT_EQ(address->family(), AF_INET);
  EXPECT_EQ(address->port(), 8443);
  EXPECT_EQ(address->length(), sizeof(sockaddr_in));
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(address->sockaddr_ptr());
  EXPECT_EQ(ntohl(v4->sin_addr.s_addr), 0x7f000001u);
  EXPECT_EQ(address->to_string(), "127.0.0.1:8443");
}

TEST(SocketAddress, ParsesIpv6) {
  auto address = SocketAddress::parse("[::1]:443");
  ASSERT_OK(address);
  EXPECT_EQ(address->family(), AF_INET6);
  EXPECT_EQ(address->port(), 443);
  EXPECT_EQ(address->length(), sizeof(sockaddr_in6));
  EXPECT_EQ(address->to_string(), "[::1]:443");
  EXPECT_EQ(SocketAddress::parse("[2001:db8::a:b]:65535")->to_string(), "[2001:db8::a:b]:65535");
}

TEST(SocketAddress, RejectsMalformedText) {
  const char* bad[] = {
      "",
      "127.0.0.1",        // no port
      "127.0.0.1:",       // empty port
      "127.0.0.1:0",      // port 0
      "127.0.0.1:65536",  // port too large
      "127.0.0.1:99999999",
      "127.0.0.1:-1",
      "127.0.0.1:+80",
      "127.0.0.1:80x",
      "127.0.0.1: 80",
      "256.0.0.1:80",
      "1.2.3:80",
      "localhost:80",  // names are not resolved
      "::1:443",       // IPv6 without brackets
      "[::1]",         // no port
      "[::1]443",
      "[::1:443",
      "[127.0.0.1]:80",  // brackets hold IPv6 only
      "[]:80",
      ":80",
  };
  for (const char* text : bad) {
    EXPECT_ERR(SocketAddress::parse(text)) << text;
  }
}

TEST(SocketAddress, ErrorNamesTheProblem) {
  EXPECT_ERR_WITH(SocketAddress::parse("1.2.3.4:0"), "port");
  EXPECT_ERR_WITH(SocketAddress::parse("::1:80"), "brackets");
}

TEST(SocketAddress, DefaultIsEmpty) {
  SocketAddress address;
  EXPECT_TRUE(address.empty());
  EXPECT_EQ(address.port(), 0);
  EXPECT_EQ(address.length(), 0u);
  EXPECT_EQ(address.to_string(), "");
}

TEST(SocketAddress, FromSockaddrCopiesInetFamilies) {
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(1234);
  ASSERT_EQ(inet_pton(AF_INET6, "fe80::1", &sa.sin6_addr), 1);
  auto address = SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  EXPECT_EQ(address.to_string(), "[fe80::1]:1234");
  EXPECT_EQ(address, SocketAddress::parse("[fe80::1]:1234").value());
}

TEST(SocketAddress, FromSockaddrRejectsOtherFamiliesAndShortLengths) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(80);
  EXPECT_TRUE(
      SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&sa), sizeof sa - 1).empty());
  EXPECT_TRUE(SocketAddress::from_sockaddr(nullptr, 0).empty());
  sockaddr_storage unix_sa{};
  unix_sa.ss_family = AF_UNIX;
  EXPECT_TRUE(
      SocketAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&unix_sa), sizeof unix_sa).empty());
}

TEST(SocketAddress, FormatTruncatesAndTerminates) {
  auto address = SocketAddress::parse("10.20.30.40:5060").value();
  char out[8];
  std::memset(out, 'x', sizeof out);
  EXPECT_EQ(address.format(out, sizeof out), 7u);
  EXPECT_STREQ(out, "10.20.3");
  EXPECT_EQ(address.format(out, 1), 0u);
  EXPECT_EQ(out[0], '\0');
  EXPECT_EQ(address.format(nullptr, 0), 0u);
}

TEST(SocketAddress, LongestTextFits) {
  auto address = SocketAddress::parse("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535");
  ASSERT_OK(address);
  char out[SocketAddress::kMaxTextLength];
  size_t length = address->format(out, sizeof out);
  EXPECT_EQ(std::string(out, length), address->to_string());
  EXPECT_EQ(SocketAddress::parse(address->to_string()).value(), address.value());
}

TEST(SocketAddress, EqualityComparesFamilyAddressAndPort) {
  auto a = SocketAddress::parse("1.2.3.4:80").value();
  EXPECT_EQ(a, SocketAddress::parse("1.2.3.4:80").value());
  EXPECT_FALSE(a == SocketAddress::parse("1.2.3.4:81").value());
  EXPECT_FALSE(a == SocketAddress::parse("1.2.3.5:80").value());
  EXPECT_FALSE(a == SocketAddress::parse("[::ffff:1.2.3.4]:80").value());
  EXPECT_FALSE(a == SocketAddress());
}

}  // namespace
}  // namespace cloudlink
