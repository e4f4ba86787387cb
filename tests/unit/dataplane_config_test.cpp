#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dataplane/config.h"

using cloudlink::Result;
using namespace cloudlink::dataplane;
using namespace std::chrono_literals;

namespace {

struct DurationCase {
  const char* text;
  bool valid;
  std::chrono::milliseconds expected;
};

TEST(ParseDuration, AcceptsSecondsMillisecondsMinutes) {
  const DurationCase cases[] = {
      {"5", true, 5000ms},    {"0.5", true, 500ms}, {"500ms", true, 500ms},  {"5s", true, 5000ms},
      {"2m", true, 120000ms}, {"0", true, 0ms},     {"1.25s", true, 1250ms}, {"", false, 0ms},
      {"-1", false, 0ms},     {"5h", false, 0ms},   {"ms", false, 0ms},      {"1e30", false, 0ms},
      {"nan", false, 0ms},    {"5 s", false, 0ms},  {"inf", false, 0ms},
  };
  for (const auto& c : cases) {
    auto r = parse_duration(c.text);
    EXPECT_EQ(r.ok(), c.valid) << c.text;
    if (c.valid && r.ok()) {
      EXPECT_EQ(*r, c.expected) << c.text;
    }
  }
}

Result<CommandLine> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "cloudlink-dataplane");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

TEST(ParseCommandLine, ReadsEveryFlag) {
  auto r = parse({"--data",
                  "/tmp/x",
                  "--listen-tls",
                  "127.0.0.1:1443",
                  "--listen-tls",
                  "[::1]:2443",
                  "--metrics",
                  "127.0.0.1:9999",
                  "--workers",
                  "3",
                  "--relay",
                  "splice",
                  "--hello-timeout",
                  "2s",
                  "--connect-timeout",
                  "250ms",
                  "--idle-timeout",
                  "1m",
                  "--drain-timeout",
                  "7",
                  "--max-connections",
                  "10"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  const Config& c = r->config;
  EXPECT_EQ(c.data_dir, "/tmp/x");
  ASSERT_EQ(c.tls_listeners.size(), 2u);
  EXPECT_EQ(c.tls_listeners[0].to_string(), "127.0.0.1:1443");
  EXPECT_EQ(c.tls_listeners[1].to_string(), "[::1]:2443");
  EXPECT_EQ(c.metrics_listener.to_string(), "127.0.0.1:9999");
  EXPECT_EQ(c.workers, 3u);
  EXPECT_EQ(c.relay, RelayMode::kSplice);
  EXPECT_EQ(c.hello_timeout, 2000ms);
  EXPECT_EQ(c.connect_timeout, 250ms);
  EXPECT_EQ(c.idle_timeout, 60000ms);
  EXPECT_EQ(c.drain_timeout, 7000ms);
  EXPECT_EQ(c.max_connections, 10u);
}

TEST(ParseCommandLine, DefaultsAreUsable) {
  auto r = parse({});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->config.data_dir, "/var/lib/cloudlink");
  ASSERT_EQ(r->config.tls_listeners.size(), 1u);
  EXPECT_GE(r->config.workers, 1u);
  EXPECT_EQ(r->config.relay, RelayMode::kCopy);
  EXPECT_FALSE(r->config.require_bpf);
}

TEST(ParseCommandLine, SockmapRelayAndRequireBpf) {
  auto r = parse({"--relay", "sockmap", "--require-bpf"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->config.relay, RelayMode::kSockmap);
  EXPECT_TRUE(r->config.require_bpf);
  EXPECT_STREQ(relay_mode_name(RelayMode::kSockmap), "sockmap");
  auto plain = parse({"--relay", "sockmap"});
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->config.require_bpf);
}

TEST(ParseCommandLine, BadFlagsNameTheProblem) {
  const std::vector<std::vector<std::string>> bad = {
      {"--relay", "teleport"},
      {"--listen-tls", "nowhere"},
      {"--hello-timeout", "soon"},
      {"--workers", "0"},
      {"--metrics", "1.2.3.4"},
      {"--no-such-flag"},
      {"--buffers", "1000"},
      {"--max-connections", "-5"},
      {"--listen-http", "80"},
      {"--accept-proxy-from", "10.1.0.0/8"},
      {"--accept-proxy-from", "lb.example"},
  };
  for (const auto& args : bad) {
    auto r = parse(args);
    EXPECT_FALSE(r.ok()) << args[0];
    if (!r.ok()) {
      EXPECT_FALSE(r.error().message().empty());
    }
  }
  auto r = parse({"--hello-timeout", "soon"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("--hello-timeout"), std::string::npos);
}

TEST(ParseCommandLine, HelpExitsZero) {
  auto r = parse({"--help"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->exit_now);
  EXPECT_EQ(r->exit_code, 0);
}

}  // namespace

TEST(ParseCommandLine, HttpListenersAndTrustedProxies) {
  auto r = parse({"--listen-http", "127.0.0.1:8080", "--listen-http", "[::1]:8080",
                  "--accept-proxy-from", "10.0.0.0/8", "--accept-proxy-from", "2001:db8::1"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->config.http_listeners.size(), 2u);
  EXPECT_EQ(r->config.http_listeners[1].to_string(), "[::1]:8080");
  ASSERT_EQ(r->config.trusted_proxies.size(), 2u);
  EXPECT_EQ(r->config.trusted_proxies[0].to_string(), "10.0.0.0/8");
  EXPECT_EQ(r->config.tls_listeners.size(), 1u);  // the TLS default stays
  auto bad = parse({"--accept-proxy-from", "10.1.0.0/8"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("--accept-proxy-from 10.1.0.0/8"), std::string::npos);
  EXPECT_NE(bad.error().message().find("10.0.0.0/8"), std::string::npos);
}
