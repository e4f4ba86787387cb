// The pieces of control's connection loop without a loop: request-target decoding, body framing,
// response bytes, connection limits, and one Connection driven step by step over a socketpair
// (phases, timers, what it writes).
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>
#include <string_view>

#include "common/http_head.h"
#include "control/http/connection.h"
#include "control/http/connection_limits.h"
#include "control/http/request_framing.h"
#include "control/http/request_target.h"
#include "control/http/response_wire.h"

namespace cloudlink::control::http {
namespace {

using cloudlink::http::HeadResult;
using cloudlink::http::HeadStatus;

HeadResult head_of(const std::string& text) {
  return cloudlink::http::parse_request_head(
      std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()), 16 * 1024);
}

TEST(RequestTarget, DecodesPathAndQuery) {
  auto t = decode_request_target("/api/users/al%69ce/x?limit=5&before=9&q=a+b%2Bc&flag&&=v#frag");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->path, "/api/users/alice/x");
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(t->query,
            (Pairs{{"limit", "5"}, {"before", "9"}, {"q", "a b+c"}, {"flag", ""}, {"", "v"}}));
  // '+' is a space only in the query; escapes decode to any byte (the router and the handlers
  // judge them).
  EXPECT_EQ(decode_request_target("/a+b%ff%00")->path, std::string("/a+b\xff\0", 6));
  EXPECT_TRUE(decode_request_target("/")->query.empty());
}

TEST(RequestTarget, RefusesBadEscapes) {
  for (std::string_view bad : {"/%", "/%4", "/%zz", "/a%g1", "/?a=%", "/?%x1=b", "/?a=%2"}) {
    auto t = decode_request_target(bad);
    EXPECT_FALSE(t.ok()) << bad;
    if (!t.ok()) {
      EXPECT_NE(t.error().context().find("percent-escape"), std::string::npos);
    }
  }
}

struct FramingCase {
  const char* description;
  std::string head;
  int refuse_status;
  uint64_t body_length;
  bool expect_continue;
  bool keep_alive;
};

TEST(RequestFraming, Table) {
  const std::string start = "POST /x HTTP/1.1\r\nHost: a\r\n";
  const FramingCase cases[] = {
      {"no body", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 0, false, true},
      {"length", start + "Content-Length: 12\r\n\r\n", 0, 12, false, true},
      {"length at the cap", start + "Content-Length: 1024\r\n\r\n", 0, 1024, false, true},
      {"length over the cap", start + "Content-Length: 1025\r\n\r\n", 413, 0, false, false},
      {"huge length", start + "Content-Length: 99999999999999999999999\r\n\r\n", 400, 0, false,
       false},
      {"signed length", start + "Content-Length: +5\r\n\r\n", 400, 0, false, false},
      {"hex length", start + "Content-Length: 0x10\r\n\r\n", 400, 0, false, false},
      {"empty length", start + "Content-Length:\r\n\r\n", 400, 0, false, false},
      {"two lengths", start + "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", 400, 0, false,
       false},
      {"chunked", start + "Transfer-Encoding: chunked\r\n\r\n", 411, 0, false, false},
      {"chunked and length", start + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 411,
       0, false, false},
      {"100-continue", start + "Content-Length: 5\r\nExpect: 100-Continue\r\n\r\n", 0, 5, true,
       true},
      {"100-continue without a body", start + "Content-Length: 0\r\nExpect: 100-continue\r\n\r\n",
       0, 0, false, true},
      {"100-continue over the cap", start + "Content-Length: 2000\r\nExpect: 100-continue\r\n\r\n",
       413, 0, false, false},
      {"other expectation", start + "Content-Length: 5\r\nExpect: magic\r\n\r\n", 417, 0, false,
       false},
      {"HTTP/1.0 ignores Expect", "POST / HTTP/1.0\r\nContent-Length: 5\r\nExpect: x\r\n\r\n", 0, 5,
       false, false},
      {"HTTP/1.0 keep-alive is not kept", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 0, 0,
       false, false},
      {"close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade, close\r\n\r\n", 0, 0, false,
       false},
      {"two Connection fields",
       "GET / HTTP/1.1\r\nHost: a\r\nConnection: a\r\nConnection: b\r\n\r\n", 0, 0, false, false},
      {"two Authorization",
       "GET / HTTP/1.1\r\nHost: a\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n", 400, 0, false,
       false},
      {"two Content-Type", start + "Content-Type: a\r\ncontent-type: b\r\n\r\n", 400, 0, false,
       false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    const HeadResult head = head_of(c.head);
    ASSERT_EQ(head.status, HeadStatus::kComplete) << head.reason;
    const Framing f = frame_request(head, 1024);
    EXPECT_EQ(f.refuse_status, c.refuse_status) << f.refuse_message;
    if (c.refuse_status != 0) {
      EXPECT_STRNE(f.refuse_message, "");
      continue;
    }
    EXPECT_EQ(f.body_length, c.body_length);
    EXPECT_EQ(f.expect_continue, c.expect_continue);
    EXPECT_EQ(f.keep_alive, c.keep_alive);
  }
  // The framing's views point into the head's bytes: keep them alive.
  const std::string typed =
      start + "Content-Type: application/json\r\nAuthorization: Bearer t\r\n\r\n";
  const Framing f = frame_request(head_of(typed), 1024);
  EXPECT_EQ(f.content_type, "application/json");
  EXPECT_EQ(f.authorization, "Bearer t");
  EXPECT_FALSE(f.has_body);
}

TEST(ResponseWire, StatusLineHeadersAndBody) {
  Response r = Response::ok({{"a", 1}}, 201);
  r.headers.emplace_back("Location", "/x");
  EXPECT_EQ(serialize_response(r, false, false),
            "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 7\r\n"
            "Location: /x\r\n\r\n{\"a\":1}");
  // HEAD: the length announced, no body; close: said so.
  EXPECT_EQ(serialize_response(r, true, true),
            "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 7\r\n"
            "Location: /x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(serialize_response(Response::no_content(), false, false),
            "HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_EQ(reason_phrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(reason_phrase(599), "Unknown");
}

TEST(ResponseWire, HandlerHeadersCannotSplitOrReframe) {
  Response r = Response::raw(200, "text/plain", "hi");
  r.headers = {{"X-Ok", "fine"},
               {"X-Split", "a\r\nSet-Cookie: evil=1"},
               {"Bad Name", "x"},
               {"content-length", "999"},
               {"Connection", "keep-alive"},
               {"X-Nul", std::string("a\0b", 3)}};
  const std::string out = serialize_response(r, false, false);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
            "X-Ok: fine\r\n\r\nhi");
}

TEST(ConnectionLimits, TotalAndPerSource) {
  ConnectionLimits limits(3, 2);
  const auto a = *SocketAddress::parse("192.0.2.1:1000");
  const auto a_other_port = *SocketAddress::parse("192.0.2.1:2000");
  const auto a_mapped = *SocketAddress::parse("[::ffff:192.0.2.1]:3000");
  const auto b = *SocketAddress::parse("[2001:db8::1]:1000");
  auto t1 = limits.try_source(a);
  auto t2 = limits.try_source(a_other_port);
  ASSERT_TRUE(t1 && t2);
  EXPECT_FALSE(limits.try_source(a_mapped)) << "the v4-mapped form is the same client";
  auto t3 = limits.try_source(b);
  EXPECT_TRUE(t3);
  EXPECT_EQ(limits.sources(), 2u);
  t1.release();
  auto t4 = limits.try_source(a);
  EXPECT_TRUE(t4);
  {
    ConnectionLimits::SourceTicket moved = std::move(t4);
    EXPECT_FALSE(t4);
    EXPECT_TRUE(moved);
  }                                   // given back here
  EXPECT_TRUE(limits.try_source(a));  // a temporary: given back at once
  t2.release();
  t3.release();
  EXPECT_EQ(limits.sources(), 0u);
  EXPECT_TRUE(limits.try_open() && limits.try_open() && limits.try_open());
  EXPECT_FALSE(limits.try_open());
  limits.close_one();
  EXPECT_TRUE(limits.try_open());
}

// A Site that answers nothing itself and records what the connection counted.
class RecordingSite final : public Site {
 public:
  Response handle(const RawRequest&, std::string* label) const override {
    *label = "/x";
    return Response::ok({{"ok", true}});
  }
  std::string route_label(std::string_view, std::string_view path) const override {
    return path == "/x" ? "/x" : "unmatched";
  }
  void answered(std::string_view route, std::string_view method, int status,
                double) const override {
    answers.push_back(std::string(route) + " " + std::string(method) + " " +
                      std::to_string(status));
  }
  mutable std::vector<std::string> answers;
};

class ConnectionDriven : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    client_.reset(fds[0]);
    options_.max_body_bytes = 64;
    env_ = std::make_unique<Connection::Env>(Connection::Env{options_, site_, nullptr, limits_});
    connection_ = std::make_unique<Connection>(
        *env_, UniqueFd(fds[1]), *SocketAddress::parse("192.0.2.7:4000"), false,
        limits_.try_source(*SocketAddress::parse("192.0.2.7:4000")));
  }
  void send(std::string_view bytes) {
    ASSERT_EQ(::send(client_.get(), bytes.data(), bytes.size(), 0),
              static_cast<ssize_t>(bytes.size()));
  }
  std::string received() {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(client_.get(), buf, sizeof buf, 0)) > 0) out.append(buf, n);
    return out;
  }

  LoopOptions options_;
  RecordingSite site_;
  ConnectionLimits limits_{10, 10};
  std::unique_ptr<Connection::Env> env_;
  UniqueFd client_;
  std::unique_ptr<Connection> connection_;
};

TEST_F(ConnectionDriven, HeadInPiecesThenBodyThenAnswerThenIdle) {
  Connection& c = *connection_;
  EXPECT_EQ(c.phase(), Connection::Phase::kHead);
  EXPECT_EQ(c.timer(), Connection::Timer::kRequest);
  c.advance();  // nothing sent yet
  EXPECT_EQ(c.phase(), Connection::Phase::kHead);
  send("POST /x?n=1 HTTP/1.1\r\nHo");
  c.advance();
  EXPECT_EQ(c.phase(), Connection::Phase::kHead);
  const uint32_t epoch = c.timer_epoch();
  send("st: a\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\"");
  c.advance();
  EXPECT_EQ(c.phase(), Connection::Phase::kBody);
  EXPECT_EQ(c.timer_epoch(), epoch) << "the request deadline runs on through the body";
  send(":1}GET /x HTTP/1.1\r\nHost: a\r\n\r\n");  // the next request, pipelined
  c.advance();
  ASSERT_EQ(c.phase(), Connection::Phase::kHandling);
  EXPECT_EQ(c.timer(), Connection::Timer::kNone);
  Job job = c.take_request(42);
  EXPECT_EQ(job.key, 42u);
  EXPECT_EQ(job.request.method, "POST");
  EXPECT_EQ(job.request.path, "/x");
  EXPECT_EQ(job.request.body, "{\"a\":1}");
  EXPECT_EQ(job.request.content_type, "application/json");
  EXPECT_EQ(job.request.remote_ip, "192.0.2.7");
  EXPECT_EQ(job.request.remote_port, 4000);
  ASSERT_EQ(job.request.query.size(), 1u);
  EXPECT_TRUE(job.keep_alive);
  Answer answer{42, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, "/x", false, {}};
  c.deliver(std::move(answer));
  EXPECT_EQ(c.timer(), Connection::Timer::kWrite);
  c.advance();
  // The pipelined GET was waiting in the socket and is next.
  ASSERT_EQ(c.phase(), Connection::Phase::kHandling);
  EXPECT_EQ(received(), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(site_.answers, std::vector<std::string>{"/x POST 200"});
  Job second = c.take_request(43);
  EXPECT_EQ(second.request.method, "GET");
  c.deliver(Answer{43, "HTTP/1.1 204 No Content\r\n\r\n", 204, "/x", false, {}});
  c.advance();
  EXPECT_EQ(c.phase(), Connection::Phase::kIdle);
  EXPECT_EQ(c.timer(), Connection::Timer::kIdle);
  c.on_deadline();  // idle too long: closed without a word
  EXPECT_EQ(c.phase(), Connection::Phase::kDone);
  EXPECT_EQ(received(), "HTTP/1.1 204 No Content\r\n\r\n");
}

TEST_F(ConnectionDriven, RefusalsAreAnsweredAndClosed) {
  Connection& c = *connection_;
  send("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 65\r\n\r\n");
  c.advance();
  // Over the 64-byte cap: 413 before the body, then lingering (FIN sent, input dropped).
  EXPECT_EQ(c.phase(), Connection::Phase::kLinger);
  EXPECT_EQ(c.timer(), Connection::Timer::kLinger);
  const std::string out = received();
  EXPECT_EQ(out.substr(0, 22), "HTTP/1.1 413 Content T");
  EXPECT_NE(out.find("Connection: close"), std::string::npos);
  EXPECT_NE(out.find("\"payload_too_large\""), std::string::npos);
  send("the body nobody reads");
  c.advance();
  EXPECT_EQ(c.phase(), Connection::Phase::kLinger);
  client_.reset();
  c.advance();
  EXPECT_EQ(c.phase(), Connection::Phase::kDone);
  EXPECT_EQ(site_.answers, std::vector<std::string>{"/x POST 413"});
}

TEST_F(ConnectionDriven, PartialRequestAtTheDeadlineIs408) {
  Connection& c = *connection_;
  send("GET /x HTTP/1.1\r\n");
  c.advance();
  c.on_deadline();
  EXPECT_EQ(c.phase(), Connection::Phase::kDone);
  const std::string out = received();
  EXPECT_EQ(out.substr(0, 25), "HTTP/1.1 408 Request Time");
  EXPECT_NE(out.find("\"request_timeout\""), std::string::npos);
}

TEST_F(ConnectionDriven, ProxyHeaderFromAnUntrustedPeerCloses) {
  Connection& c = *connection_;
  send("PROXY TCP4 203.0.113.7 198.51.100.1 51234 443\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n");
  c.advance();
  EXPECT_EQ(c.phase(), Connection::Phase::kDone);
  EXPECT_STREQ(c.refused_reason(), "bad_proxy");
  EXPECT_EQ(received(), "");
}

TEST(ConnectionTrusted, ProxyHeaderNamesTheClient) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  UniqueFd client(fds[0]);
  LoopOptions options;
  RecordingSite site;
  ConnectionLimits limits(10, 1);
  Connection::Env env{options, site, nullptr, limits};
  const auto balancer = *SocketAddress::parse("127.0.0.1:5000");
  Connection c(env, UniqueFd(fds[1]), balancer, true, {});
  EXPECT_EQ(c.phase(), Connection::Phase::kProxy);
  const std::string_view first = "PROXY TCP4 203.0.113.7 198.51.100.1 51234 443\r\nGET /x HTT";
  ASSERT_EQ(::send(client.get(), first.data(), first.size(), 0), ssize_t(first.size()));
  c.advance();
  EXPECT_EQ(c.phase(), Connection::Phase::kHead);
  EXPECT_EQ(limits.sources(), 1u) << "counted against the client, not the balancer";
  const std::string_view rest = "P/1.1\r\nHost: a\r\n\r\n";
  ASSERT_EQ(::send(client.get(), rest.data(), rest.size(), 0), ssize_t(rest.size()));
  c.advance();
  ASSERT_EQ(c.phase(), Connection::Phase::kHandling);
  Job job = c.take_request(1);
  EXPECT_EQ(job.request.remote_ip, "203.0.113.7");
  EXPECT_EQ(job.request.remote_port, 51234);
  // The same client through a second balancer connection: over its per-source limit of 1.
  int more[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, more), 0);
  UniqueFd client2(more[0]);
  Connection c2(env, UniqueFd(more[1]), balancer, true, {});
  const std::string_view header = "PROXY TCP4 203.0.113.7 198.51.100.1 51235 443\r\n";
  ASSERT_EQ(::send(client2.get(), header.data(), header.size(), 0), ssize_t(header.size()));
  c2.advance();
  EXPECT_EQ(c2.phase(), Connection::Phase::kDone);
  EXPECT_STREQ(c2.refused_reason(), "per_source");
  // A trusted peer without a header is refused.
  int bare[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, bare), 0);
  UniqueFd client3(bare[0]);
  Connection c3(env, UniqueFd(bare[1]), balancer, true, {});
  const std::string_view plain = "GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
  ASSERT_EQ(::send(client3.get(), plain.data(), plain.size(), 0), ssize_t(plain.size()));
  c3.advance();
  EXPECT_EQ(c3.phase(), Connection::Phase::kDone);
  EXPECT_STREQ(c3.refused_reason(), "bad_proxy");
}

}  // namespace
}  // namespace cloudlink::control::http
