#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <string>
#include <vector>

#include "dataplane/config.h"
#include "temp_dir.h"

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
  // Checked by the option itself, so a settings file line gets the same words.
  EXPECT_NE(bad.error().message().find("--accept-proxy-from: 10.1.0.0/8"), std::string::npos)
      << bad.error().message();
  EXPECT_NE(bad.error().message().find("10.0.0.0/8"), std::string::npos);
}

// ---- the settings file (/etc/cloudlink/dataplane.conf): common/settings_file + settings_cli ----

namespace settings {

using cloudlink::testing::TempDir;

std::string write(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.path() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

Result<CommandLine> parse_with(std::vector<std::string> args, const std::string& default_config) {
  args.insert(args.begin(), "cloudlink-dataplane");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parse_command_line(static_cast<int>(argv.size()), argv.data(), default_config);
}

TEST(DataplaneSettingsFile, SetsEveryKindOfValueAndFlagsOverrideIt) {
  TempDir dir;
  const std::string path = write(dir, "dataplane.conf",
                                 "# comment\n"
                                 "data = /srv/cloudlink\n"
                                 "listen-tls = 127.0.0.1:1443\n"
                                 "listen_tls = [::1]:2443\n"
                                 "listen-http = 127.0.0.1:1080\n"
                                 "accept-proxy-from = 10.0.0.0/8\n"
                                 "metrics = off\n"
                                 "relay = splice\n"
                                 "require-bpf = true\n"
                                 "hello-timeout = 2s\n"
                                 "drain-timeout = 90s\n"
                                 "max-connections = 1000\n"
                                 "buffers = 64\n"
                                 "workers = 3\n");
  auto r = parse_with({"--config", path, "--workers", "5", "--hello-timeout", "1s"}, "");
  ASSERT_TRUE(r.ok()) << r.error().message();
  const Config& c = r->config;
  EXPECT_EQ(c.config_path, path);
  EXPECT_EQ(c.data_dir, "/srv/cloudlink");
  ASSERT_EQ(c.tls_listeners.size(), 2u);
  EXPECT_EQ(c.tls_listeners[1].to_string(), "[::1]:2443");
  ASSERT_EQ(c.http_listeners.size(), 1u);
  ASSERT_EQ(c.trusted_proxies.size(), 1u);
  EXPECT_TRUE(c.metrics_listener.empty());
  EXPECT_EQ(c.relay, RelayMode::kSplice);
  EXPECT_TRUE(c.require_bpf);
  EXPECT_EQ(c.drain_timeout, 90000ms);
  EXPECT_EQ(c.max_connections, 1000u);
  EXPECT_EQ(c.buffers_per_worker, 64u);
  // The flags win over the file.
  EXPECT_EQ(c.workers, 5u);
  EXPECT_EQ(c.hello_timeout, 1000ms);
}

TEST(DataplaneSettingsFile, DefaultFileIsReadWhenItExistsAndMissingIsFine) {
  TempDir dir;
  const std::string path = write(dir, "dataplane.conf", "max-connections = 77\n");
  auto r = parse_with({}, path);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->config.max_connections, 77u);
  EXPECT_EQ(r->config.config_path, path);

  auto missing = parse_with({}, dir.path() + "/absent.conf");
  ASSERT_TRUE(missing.ok()) << missing.error().message();
  EXPECT_EQ(missing->config.config_path, "");
  EXPECT_EQ(missing->config.max_connections, 65536u);
}

TEST(DataplaneSettingsFile, MissingExplicitFileIsAnError) {
  TempDir dir;
  auto r = parse_with({"--config", dir.path() + "/absent.conf"}, "");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find(dir.path() + "/absent.conf"), std::string::npos)
      << r.error().message();
}

TEST(DataplaneSettingsFile, BadEntriesNameFileLineAndKey) {
  struct Case {
    const char* text;
    const char* key;
  };
  const Case cases[] = {
      {"workers = 2\nno-such-key = 1\n", "no-such-key"},
      {"workers = 2\nhello-timeout = soon\n", "hello-timeout"},
      {"workers = 2\ndrain-timeout = -1\n", "drain-timeout"},
      {"workers = 2\nlisten-tls = 127.0.0.1:notaport\n", "listen-tls"},
      {"workers = 2\nlisten-http = nowhere\n", "listen-http"},
      {"workers = 2\nmetrics = 127.0.0.1\n", "metrics"},
      {"workers = 2\naccept-proxy-from = 10.0.0.0/99\n", "accept-proxy-from"},
      {"workers = 2\nrelay = teleport\n", "relay"},
      {"workers = 2\nmax-connections = many\n", "max-connections"},
      {"workers = 2\nbuffers = 100\n", "buffers"},
      {"workers = 2\nworkers = 3\n", "workers"},
      {"workers = 2\nconfig = /etc/other.conf\n", "config"},
      {"workers = 2\ntakeover-fd = 7\n", "takeover-fd"},
  };
  for (const Case& c : cases) {
    TempDir dir;
    const std::string path = write(dir, "dataplane.conf", c.text);
    auto r = parse_with({"--config", path}, "");
    ASSERT_FALSE(r.ok()) << c.text;
    const std::string want = path + ":2: key " + c.key + ":";
    EXPECT_EQ(r.error().message().rfind(want, 0), 0u) << r.error().message();
  }
}

TEST(DataplaneSettingsFile, TakeoverFdIsAFlagOnly) {
  auto r = parse_with({"--takeover-fd", "7", "--workers", "1"}, "");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->config.takeover_fd, 7);
  EXPECT_EQ(r->config.workers, 1u);
  EXPECT_FALSE(parse_with({"--takeover-fd", "x"}, "").ok());
  EXPECT_FALSE(parse_with({"--takeover-fd"}, "").ok());
  EXPECT_EQ(parse_with({}, "")->config.takeover_fd, -1);
}

TEST(DataplaneSettingsFile, ShippedFileListsValidKeysWithTheirDefaults) {
  // deploy/etc/cloudlink/dataplane.conf with every commented `#name = value` line switched on
  // must parse, and the values it shows as defaults must be the program's.
  std::ifstream in(std::string(CLOUDLINK_TEST_VECTORS) +
                   "/../../deploy/etc/cloudlink/dataplane.conf");
  ASSERT_TRUE(in.good());
  std::string text;
  std::string line;
  size_t keys = 0;
  while (std::getline(in, line)) {
    if (line.size() > 1 && line[0] == '#' && std::islower(static_cast<unsigned char>(line[1])) &&
        line.find(" = ") != std::string::npos) {
      line.erase(0, 1);
      ++keys;
    } else if (!line.empty() && std::islower(static_cast<unsigned char>(line[0]))) {
      ++keys;  // on in the shipped file (the listeners a VPS serves)
    }
    text += line + "\n";
  }
  EXPECT_GE(keys, 16u);
  TempDir dir;
  auto r = parse_with({"--config", write(dir, "dataplane.conf", text)}, "");
  ASSERT_TRUE(r.ok()) << r.error().message();
  const Config defaults;
  const Config& c = r->config;
  EXPECT_EQ(c.data_dir, defaults.data_dir);
  EXPECT_EQ(c.hello_timeout, defaults.hello_timeout);
  EXPECT_EQ(c.connect_timeout, defaults.connect_timeout);
  EXPECT_EQ(c.idle_timeout, defaults.idle_timeout);
  EXPECT_EQ(c.drain_timeout, defaults.drain_timeout);
  EXPECT_EQ(c.max_connections, defaults.max_connections);
  EXPECT_EQ(c.buffer_size, defaults.buffer_size);
  EXPECT_EQ(c.buffers_per_worker, defaults.buffers_per_worker);
  EXPECT_EQ(c.relay, defaults.relay);
  EXPECT_EQ(c.metrics_listener.to_string(), "127.0.0.1:9477");
}

}  // namespace settings
