// Small dataplane pieces with no kernel state: user_data codec, deadline lists, the
// least-connections balancer, the access log line, TLS alerts.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/deadline_list.h"
#include "dataplane/access_log.h"
#include "dataplane/http_answers.h"
#include "dataplane/target_balancer.h"
#include "dataplane/tls_alert.h"
#include "dataplane/user_data.h"

using namespace cloudlink;
using namespace cloudlink::dataplane;

namespace {

TEST(UserData, RoundTripsEveryField) {
  for (Op op : {Op::kAccept, Op::kHelloRecv, Op::kCopySend, Op::kCancel}) {
    for (uint32_t slot : {0u, 1u, 12345u, UINT32_MAX}) {
      for (uint16_t gen : {uint16_t{0}, uint16_t{7}, uint16_t{65535}}) {
        const UserData d = decode_user_data(encode_user_data(op, 1, gen, slot));
        EXPECT_EQ(d.op, op);
        EXPECT_EQ(d.aux, 1);
        EXPECT_EQ(d.generation, gen);
        EXPECT_EQ(d.slot, slot);
      }
    }
  }
}

TEST(DeadlineList, KeepsFifoOrderAndRemovesFromAnywhere) {
  std::vector<DeadlineLink> links(5);
  DeadlineList a(0, &links);
  DeadlineList b(1, &links);
  for (uint32_t s = 0; s < 4; ++s) a.push_back(s, 100 + s);
  b.push_back(4, 50);
  a.remove(4);  // not a member of a: nothing happens
  EXPECT_EQ(b.front(), 4u);
  a.remove(1);
  a.remove(3);
  EXPECT_EQ(a.front(), 0u);
  a.remove(0);
  EXPECT_EQ(a.front(), 2u);
  EXPECT_EQ(a.front_deadline(), 102);
  a.remove(2);
  EXPECT_TRUE(a.empty());
  a.push_back(1, 9);
  EXPECT_EQ(a.front(), 1u);
  EXPECT_FALSE(b.empty());
}

SocketAddress addr(const char* text) { return *SocketAddress::parse(text); }

TEST(TargetBalancer, PicksLeastConnectionsAndSkipsTried) {
  TargetLoads loads;
  TargetBalancer lb(loads);
  const std::vector<SocketAddress> targets = {addr("127.0.0.1:1001"), addr("127.0.0.1:1002"),
                                              addr("[::1]:1003")};
  EXPECT_EQ(lb.pick(targets, 0), 0);
  lb.opened(targets[0]);
  EXPECT_EQ(lb.pick(targets, 0), 1);
  lb.opened(targets[1]);
  lb.opened(targets[1]);
  EXPECT_EQ(lb.pick(targets, 0), 2);
  lb.opened(targets[2]);
  EXPECT_EQ(lb.pick(targets, 0), 0);       // 1,2,1: the first of the least
  EXPECT_EQ(lb.pick(targets, 0b101), 1);   // 0 and 2 tried already
  EXPECT_EQ(lb.pick(targets, 0b111), -1);  // all tried
  lb.closed(targets[1]);
  lb.closed(targets[1]);
  EXPECT_EQ(lb.open_count(targets[1]), 0u);
  lb.closed(targets[1]);  // more closes than opens never wraps around
  EXPECT_EQ(lb.open_count(targets[1]), 0u);
  EXPECT_EQ(lb.pick(targets, 0), 1);
}

TEST(TargetBalancer, WorkersShareTheCounts) {
  TargetLoads loads;
  TargetBalancer first(loads);
  TargetBalancer second(loads);
  const std::vector<SocketAddress> targets = {addr("127.0.0.1:1001"), addr("127.0.0.1:1002")};
  EXPECT_EQ(first.pick(targets, 0), 0);
  first.opened(targets[0]);
  // Another worker sees the first one's connection and goes to the other target.
  EXPECT_EQ(second.pick(targets, 0), 1);
  second.opened(targets[1]);
  EXPECT_EQ(first.open_count(targets[1]), 1u);
  second.closed(targets[1]);
  EXPECT_EQ(first.pick(targets, 0), 1);
}

TEST(AccessLog, OneLogfmtLineWithEveryField) {
  const SocketAddress client = addr("203.0.113.7:40000");
  const SocketAddress target = addr("127.0.0.1:9443");
  AccessLogEntry e;
  e.client = &client;
  e.sni = "app.test";
  e.target = &target;
  e.result = CloseResult::kOk;
  e.bytes_from_client = 517;
  e.bytes_to_client = 1234567;
  e.duration_s = 0.25;
  char line[512];
  const std::string s(line, format_access_log(e, line, sizeof line));
  EXPECT_EQ(s.rfind("ts=", 0), 0u);
  EXPECT_NE(s.find(" client=203.0.113.7:40000 sni=app.test target=127.0.0.1:9443 result=ok "
                   "bytes_from_client=517 bytes_to_client=1234567 duration_s=0.250000\n"),
            std::string::npos)
      << s;
  EXPECT_EQ(s.back(), '\n');
}

TEST(AccessLog, MissingFieldsAreDashes) {
  AccessLogEntry e;
  e.result = CloseResult::kHelloTimeout;
  char line[512];
  const std::string s(line, format_access_log(e, line, sizeof line));
  EXPECT_NE(s.find("client=- sni=- target=- result=hello_timeout"), std::string::npos) << s;
}

TEST(TlsAlert, UnrecognizedNameIsAFatalAlertRecord) {
  const auto a = tls::kUnrecognizedNameAlert;
  const std::vector<uint8_t> bytes(a.begin(), a.end());
  EXPECT_EQ(bytes, (std::vector<uint8_t>{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 112}));
}

TEST(CloseResult, EveryResultHasAName) {
  for (size_t i = 0; i < static_cast<size_t>(CloseResult::kCount); ++i) {
    EXPECT_STRNE(close_result_name(static_cast<CloseResult>(i)), "");
  }
  EXPECT_TRUE(is_rejection(CloseResult::kUnknownSni));
  EXPECT_FALSE(is_rejection(CloseResult::kOk));
  EXPECT_FALSE(is_rejection(CloseResult::kIdleTimeout));
}

}  // namespace

// ---- HTTP answers ----

namespace {

// Content-Length matches the body, and the head ends with Connection: close.
void expect_well_formed(std::string_view response) {
  const size_t end = response.find("\r\n\r\n");
  ASSERT_NE(end, std::string_view::npos);
  const std::string_view head = response.substr(0, end);
  const std::string_view body = response.substr(end + 4);
  EXPECT_NE(head.find("\r\nContent-Length: " + std::to_string(body.size())), std::string::npos)
      << head;
  EXPECT_NE(head.find("\r\nConnection: close"), std::string::npos) << head;
}

}  // namespace

TEST(HttpAnswers, FixedAnswersAreWellFormed) {
  const std::pair<HttpAnswer, std::string_view> cases[] = {
      {HttpAnswer::kBadRequest, "HTTP/1.1 400 "},  {HttpAnswer::kNotFound, "HTTP/1.1 404 "},
      {HttpAnswer::kUriTooLong, "HTTP/1.1 414 "},  {HttpAnswer::kHeadTooLarge, "HTTP/1.1 431 "},
      {HttpAnswer::kUnavailable, "HTTP/1.1 503 "},
  };
  for (const auto& [answer, status] : cases) {
    std::string_view text = http_answer(answer);
    EXPECT_EQ(text.substr(0, status.size()), status);
    expect_well_formed(text);
  }
}

TEST(HttpAnswers, RedirectToHttps) {
  char out[512];
  size_t n = write_https_redirect("app.example.com", "/a/b?c=d", out);
  ASSERT_GT(n, 0u);
  std::string_view text(out, n);
  EXPECT_EQ(text.substr(0, 32), "HTTP/1.1 308 Permanent Redirect\r");
  EXPECT_NE(text.find("\r\nLocation: https://app.example.com/a/b?c=d\r\n"), std::string::npos);
  expect_well_formed(text);
  n = write_https_redirect("app.example.com", "*", out);
  EXPECT_NE(std::string_view(out, n).find("Location: https://app.example.com/\r\n"),
            std::string::npos);
}

TEST(HttpAnswers, RedirectThatDoesNotFitWritesNothing) {
  std::string target = "/" + std::string(300, 'a');
  char out[512];
  EXPECT_EQ(write_https_redirect("a.example", target, out), 0u);
  std::vector<char> big(2048);
  size_t n = write_https_redirect("a.example", target, big);
  ASSERT_GT(n, 0u);
  // Exactly the needed size fits; one byte less does not.
  EXPECT_EQ(write_https_redirect("a.example", target, std::span<char>(big.data(), n)), n);
  EXPECT_EQ(write_https_redirect("a.example", target, std::span<char>(big.data(), n - 1)), 0u);
}
