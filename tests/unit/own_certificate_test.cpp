// Control's own certificate: what it reads from a chain (validity, names, self-issued), the
// placeholder it serves before the CA answers, when it renews and how it backs off.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/acme/certificate_info.h"
#include "common/acme/secret_file.h"
#include "control/acme/own_certificate.h"
#include "control/acme/renewal.h"
#include "temp_dir.h"
#include "test_result.h"

namespace cloudlink::control::acme {
namespace {

using namespace std::chrono_literals;
namespace ca = cloudlink::acme;

SystemTime at(int64_t unix_seconds) { return SystemTime(std::chrono::seconds(unix_seconds)); }

TEST(CertificateInfo, SelfSignedPlaceholderReadsBack) {
  const SystemTime from = at(1'700'000'000);
  auto made = ca::make_self_signed_certificate("vps.example.com", from, from + 30 * 24h);
  ASSERT_OK(made);
  auto info = ca::read_certificate_info(made->chain_pem);
  ASSERT_OK(info);
  EXPECT_EQ(info->not_before, from);
  EXPECT_EQ(info->not_after, from + 30 * 24h);
  EXPECT_TRUE(info->self_issued);
  EXPECT_TRUE(info->covers("vps.example.com"));
  EXPECT_TRUE(info->covers("VPS.Example.com"));
  EXPECT_FALSE(info->covers("other.example.com"));
  EXPECT_FALSE(info->covers("vps.example.co"));
  EXPECT_OK(ca::check_key_matches(made->chain_pem, made->key_pem));
  auto other = ca::make_self_signed_certificate("vps.example.com", from, from + 24h);
  ASSERT_OK(other);
  EXPECT_ERR_WITH(ca::check_key_matches(made->chain_pem, other->key_pem), "does not belong");
}

TEST(CertificateInfo, GarbageIsAnError) {
  EXPECT_ERR(ca::read_certificate_info(""));
  EXPECT_ERR(
      ca::read_certificate_info("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
  EXPECT_ERR_WITH(ca::check_key_matches("junk", "junk"), "no certificate");
}

TEST(Renewal, AtTwoThirdsOfACaCertificatesLifetime) {
  CertificateInfo issued;
  issued.not_before = at(1'700'000'000);
  issued.not_after = issued.not_before + 90 * 24h;
  issued.dns_names = {"vps.example.com"};
  EXPECT_EQ(renewal_time(issued, "vps.example.com"), issued.not_before + 60 * 24h);
  EXPECT_EQ(renewal_time(issued, "VPS.example.com"), issued.not_before + 60 * 24h);
}

TEST(Renewal, NowWhenThereIsNothingUsable) {
  CertificateInfo issued;
  issued.not_before = at(1'700'000'000);
  issued.not_after = issued.not_before + 90 * 24h;
  issued.dns_names = {"vps.example.com"};
  EXPECT_EQ(renewal_time(std::nullopt, "vps.example.com"), SystemTime::min());
  EXPECT_EQ(renewal_time(issued, "other.example.com"), SystemTime::min());
  CertificateInfo placeholder = issued;
  placeholder.self_issued = true;
  EXPECT_EQ(renewal_time(placeholder, "vps.example.com"), SystemTime::min());
  CertificateInfo inverted = issued;
  inverted.not_after = inverted.not_before;
  EXPECT_EQ(renewal_time(inverted, "vps.example.com"), SystemTime::min());
}

TEST(Renewal, BackoffDoublesUpToItsCap) {
  Backoff backoff{60s, 3600s};
  EXPECT_EQ(retry_delay(backoff, 1), 60s);
  EXPECT_EQ(retry_delay(backoff, 2), 120s);
  EXPECT_EQ(retry_delay(backoff, 3), 240s);
  EXPECT_EQ(retry_delay(backoff, 6), 1920s);
  EXPECT_EQ(retry_delay(backoff, 7), 3600s);
  EXPECT_EQ(retry_delay(backoff, 1000), 3600s);
}

TEST(OwnCertificate, ReachableAddressOfAWildcardBindIsLoopback) {
  EXPECT_EQ(reachable_address("0.0.0.0", 8443).value().to_string(), "127.0.0.1:8443");
  EXPECT_EQ(reachable_address("::", 8443).value().to_string(), "[::1]:8443");
  EXPECT_EQ(reachable_address("127.0.0.2", 443).value().to_string(), "127.0.0.2:443");
  EXPECT_EQ(reachable_address("::1", 443).value().to_string(), "[::1]:443");
}

TEST(OwnCertificate, SystemRouteAsksForProxyExactlyWhenControlReadsIt) {
  const auto tls = SocketAddress::parse("127.0.0.1:8443").value();
  const auto http = SocketAddress::parse("127.0.0.1:40000").value();
  const auto loopback = Cidr::parse("127.0.0.1/32").value();
  const auto other = Cidr::parse("10.0.0.0/8").value();
  EXPECT_FALSE(system_route_proxy_v2({}, tls, http).value());
  EXPECT_FALSE(system_route_proxy_v2({other}, tls, http).value());
  EXPECT_TRUE(system_route_proxy_v2({loopback}, tls, http).value());
  EXPECT_TRUE(
      system_route_proxy_v2({other, Cidr::parse("127.0.0.0/8").value()}, tls, http).value());
  // One target trusted and not the other: the flag cannot be right for both.
  const auto elsewhere = SocketAddress::parse("127.0.0.2:40000").value();
  auto mixed = system_route_proxy_v2({loopback}, tls, elsewhere);
  ASSERT_FALSE(mixed.ok());
  EXPECT_NE(mixed.error().context().find("127.0.0.2:40000"), std::string::npos);
}

class Prepare : public ::testing::Test {
 protected:
  OwnCertificateOptions options() {
    OwnCertificateOptions o;
    o.hostname = "vps.example.com";
    o.tls_dir = dir_.path() + "/tls";
    o.account_key_file = dir_.path() + "/acme/account.pem";
    return o;
  }
  static std::string read(const std::string& path) {
    auto text = ca::read_small_file(path);
    return text ? text.value() : "error: " + text.error().message();
  }
  static mode_t mode(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? st.st_mode & 0777 : 0;
  }
  cloudlink::testing::TempDir dir_;
};

TEST_F(Prepare, WritesAPlaceholderWhenThereIsNoCertificate) {
  auto o = options();
  ASSERT_OK(OwnCertificate::prepare(o));
  EXPECT_EQ(mode(o.tls_dir), 0700u);
  EXPECT_EQ(mode(dir_.path() + "/acme"), 0700u);
  EXPECT_EQ(mode(o.key_file()), 0600u);
  EXPECT_OK(ca::check_key_matches(read(o.chain_file()), read(o.key_file())));
  auto info = ca::read_certificate_info(read(o.chain_file()));
  ASSERT_OK(info);
  EXPECT_TRUE(info->self_issued);
  EXPECT_TRUE(info->covers("vps.example.com"));
  EXPECT_EQ(renewal_time(info.value(), o.hostname), SystemTime::min());
}

TEST_F(Prepare, KeepsAPairThatBelongsTogether) {
  auto o = options();
  ASSERT_OK(OwnCertificate::prepare(o));
  const std::string chain = read(o.chain_file());
  const std::string key = read(o.key_file());
  ASSERT_OK(OwnCertificate::prepare(o));
  EXPECT_EQ(read(o.chain_file()), chain);
  EXPECT_EQ(read(o.key_file()), key);
}

TEST_F(Prepare, ReplacesAPairThatCannotBeServed) {
  auto o = options();
  ASSERT_OK(OwnCertificate::prepare(o));
  const std::string chain = read(o.chain_file());
  auto other = ca::make_self_signed_certificate(o.hostname, SystemTime{}, SystemTime{} + 24h);
  ASSERT_OK(other);
  ASSERT_OK(ca::write_secret_file(o.key_file(), other->key_pem));
  ASSERT_OK(OwnCertificate::prepare(o));
  EXPECT_NE(read(o.chain_file()), chain);
  EXPECT_OK(ca::check_key_matches(read(o.chain_file()), read(o.key_file())));
}

TEST_F(Prepare, AFileItCannotReadIsAnErrorAndStaysAsItWas) {
  auto o = options();
  ASSERT_EQ(::mkdir(o.tls_dir.c_str(), 0700), 0);
  ASSERT_EQ(::mkdir(o.key_file().c_str(), 0700), 0);  // read() fails with EISDIR
  ASSERT_OK(ca::write_secret_file(o.chain_file(), "kept\n", 0644));
  EXPECT_ERR_WITH(OwnCertificate::prepare(o), "key.pem");
  EXPECT_EQ(read(o.chain_file()), "kept\n");
}

}  // namespace
}  // namespace cloudlink::control::acme
