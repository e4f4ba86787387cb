// Control's own certificate: what it reads from a chain (validity, names, self-issued), the
// placeholder it serves before the CA answers, when it renews and how it backs off.
#include <gtest/gtest.h>

#include "common/acme/certificate_info.h"
#include "control/acme/own_certificate.h"
#include "control/acme/renewal.h"
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

}  // namespace
}  // namespace cloudlink::control::acme
