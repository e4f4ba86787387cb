// A reload's diff (home-agent/tunnel/tunnel_diff.h, commands/tunnel_plan.h): from two
// cloudlink.yaml texts, which tunnels keep running, which stop and which start. Only the
// changed service's tunnels may move; every other tunnel is kept.
#include "home-agent/tunnel/tunnel_diff.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "home-agent/commands/tunnel_plan.h"
#include "home-agent/status/status_board.h"
#include "test_result.h"

namespace cloudlink::home {
namespace {

constexpr const char* kSsh = R"(ssh:
  host: vps.example.com
  private_key: home_key
  known_host_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDZZTn6Mv7PUy0EVJKjNJVmc2TcRF6jsrNTwRGJ6SAHo"
)";

constexpr const char* kA =
    "  - {hostname: a.example.com, target: \"127.0.0.1:8001\", tunnel_ports: [20000, 20001]}\n";
constexpr const char* kB =
    "  - {hostname: b.example.com, target: \"127.0.0.1:8002\", tunnel_ports: [20002]}\n";
constexpr const char* kC =
    "  - {hostname: c.example.com, target: \"127.0.0.1:8003\", tunnel_ports: [20003, 20004], "
    "connections: 2}\n";

std::string config_text(const std::string& services, const std::string& ssh = kSsh) {
  return ssh + "services:\n" + services;
}

// "a.example.com:20000" for each tunnel of plan picked by indices.
std::set<std::string> names(const TunnelPlan& plan, const std::vector<size_t>& indices) {
  std::set<std::string> out;
  for (size_t i : indices) {
    out.insert(plan.ids[i].service + ":" + std::to_string(plan.ids[i].tunnel_port));
  }
  return out;
}

TunnelPlan plan_of(const std::string& text) {
  auto config = parse_agent_config(text, "cloudlink.yaml");
  EXPECT_TRUE(testing::is_ok(config));
  if (!config.ok()) return {};
  return plan_tunnels(*config, "/etc/cloudlink/cloudlink.yaml",
                      KeepaliveSettings::every(std::chrono::seconds(10)));
}

struct Case {
  const char* description;
  std::string before;
  std::string after;
  std::set<std::string> kept;     // running tunnels that stay
  std::set<std::string> stopped;  // running tunnels that stop
  std::set<std::string> started;  // wanted tunnels that start
};

std::vector<Case> cases() {
  const std::string ab = config_text(std::string(kA) + kB);
  const std::string abc = config_text(std::string(kA) + kB + kC);
  return {
      {"nothing changed",
       abc,
       abc,
       {"a.example.com:20000", "b.example.com:20002", "c.example.com:20003", "c.example.com:20004"},
       {},
       {}},
      {"B exposed", config_text(kA), ab, {"a.example.com:20000"}, {}, {"b.example.com:20002"}},
      {"C unexposed",
       abc,
       ab,
       {"a.example.com:20000", "b.example.com:20002"},
       {"c.example.com:20003", "c.example.com:20004"},
       {}},
      {"B exposed and C unexposed at once",
       config_text(std::string(kA) + kC),
       ab,
       {"a.example.com:20000"},
       {"c.example.com:20003", "c.example.com:20004"},
       {"b.example.com:20002"}},
      {"services reordered",
       abc,
       config_text(std::string(kC) + kB + kA),
       {"a.example.com:20000", "b.example.com:20002", "c.example.com:20003", "c.example.com:20004"},
       {},
       {}},
      {"A gets a second connection: only the new one starts",
       ab,
       config_text(
           "  - {hostname: a.example.com, target: \"127.0.0.1:8001\", tunnel_ports: [20000, "
           "20001], connections: 2}\n" +
           std::string(kB)),
       {"a.example.com:20000", "b.example.com:20002"},
       {},
       {"a.example.com:20001"}},
      {"C down to one connection: only the second stops",
       abc,
       config_text(std::string(kA) + kB +
                   "  - {hostname: c.example.com, target: \"127.0.0.1:8003\", tunnel_ports: "
                   "[20003, 20004], connections: 1}\n"),
       {"a.example.com:20000", "b.example.com:20002", "c.example.com:20003"},
       {"c.example.com:20004"},
       {}},
      {"B's target changed: B restarts",
       ab,
       config_text(std::string(kA) +
                   "  - {hostname: b.example.com, target: \"[::1]:8002\", tunnel_ports: "
                   "[20002]}\n"),
       {"a.example.com:20000"},
       {"b.example.com:20002"},
       {"b.example.com:20002"}},
      {"B moved to another tunnel port: B restarts",
       ab,
       config_text(std::string(kA) +
                   "  - {hostname: b.example.com, target: \"127.0.0.1:8002\", tunnel_ports: "
                   "[20009]}\n"),
       {"a.example.com:20000"},
       {"b.example.com:20002"},
       {"b.example.com:20009"}},
      {"B starts terminating TLS: B restarts",
       ab,
       config_text(std::string(kA) +
                   "  - {hostname: b.example.com, target: \"127.0.0.1:8002\", tunnel_ports: "
                   "[20002], terminate_tls: true}\n"),
       {"a.example.com:20000"},
       {"b.example.com:20002"},
       {"b.example.com:20002"}},
      {"B's PROXY flag is the dataplane's business: kept",
       ab,
       config_text(std::string(kA) +
                   "  - {hostname: b.example.com, target: \"127.0.0.1:8002\", tunnel_ports: "
                   "[20002], proxy_protocol: true}\n"),
       {"a.example.com:20000", "b.example.com:20002"},
       {},
       {}},
      {"another VPS host key: every tunnel restarts",
       ab,
       config_text(std::string(kA) + kB,
                   "ssh:\n  host: vps.example.com\n  private_key: home_key\n"
                   "  known_host_key: \"ssh-ed25519 "
                   "AAAAC3NzaC1lZDI1NTE5AAAAIBBBTn6Mv7PUy0EVJKjNJVmc2TcRF6jsrNTwRGJ6SAHo\"\n"),
       {},
       {"a.example.com:20000", "b.example.com:20002"},
       {"a.example.com:20000", "b.example.com:20002"}},
      {"last service unexposed", config_text(kB), config_text(""), {}, {"b.example.com:20002"}, {}},
  };
}

TEST(TunnelDiff, OnlyTheChangedServicesTunnelsMove) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.description);
    TunnelPlan before = plan_of(c.before);
    TunnelPlan after = plan_of(c.after);
    TunnelDiff diff = diff_tunnels(before.ids, after.ids);
    EXPECT_EQ(names(before, diff.keep), c.kept);
    EXPECT_EQ(names(before, diff.stop), c.stopped);
    EXPECT_EQ(names(after, diff.start), c.started);
    // Every running tunnel is either kept or stopped; every wanted one kept or started.
    EXPECT_EQ(diff.keep.size() + diff.stop.size(), before.ids.size());
    EXPECT_EQ(diff.keep.size() + diff.start.size(), after.ids.size());
  }
}

TEST(TunnelDiff, EqualIdentitiesAreMatchedOneToOne) {
  TunnelIdentity a{"ssh", 10000, "a.example.com", "127.0.0.1:1", "", 20000};
  TunnelIdentity b = a;
  b.tunnel_port = 20001;
  TunnelDiff diff = diff_tunnels({a, a, b}, {a, b, b});
  EXPECT_EQ(diff.keep, (std::vector<size_t>{0, 2}));
  EXPECT_EQ(diff.stop, (std::vector<size_t>{1}));
  EXPECT_EQ(diff.start, (std::vector<size_t>{2}));
  diff = diff_tunnels({}, {a});
  EXPECT_EQ(diff.start, (std::vector<size_t>{0}));
  diff = diff_tunnels({a}, {});
  EXPECT_EQ(diff.stop, (std::vector<size_t>{0}));
}

TEST(TunnelDiff, KeepaliveAndKeyAreOfTheIdentity) {
  TunnelPlan plan = plan_of(config_text(kB));
  ASSERT_EQ(plan.ids.size(), 1u);
  auto config = parse_agent_config(config_text(kB), "cloudlink.yaml");
  ASSERT_OK(config);
  TunnelPlan slower = plan_tunnels(*config, "/etc/cloudlink/cloudlink.yaml",
                                   KeepaliveSettings::every(std::chrono::seconds(30)));
  EXPECT_FALSE(plan.ids[0] == slower.ids[0]);
  // The key path is resolved against the config's folder: another folder, another key.
  TunnelPlan elsewhere = plan_tunnels(*config, "/home/me/cloudlink.yaml",
                                      KeepaliveSettings::every(std::chrono::seconds(10)));
  EXPECT_FALSE(plan.ids[0] == elsewhere.ids[0]);
}

TEST(StatusBoard, RetiredTunnelsLeaveTheSnapshot) {
  StatusBoard board;
  size_t a = board.add("a.example.com#0", "127.0.0.1:1", 20000, "a.example.com");
  size_t b = board.add("b.example.com#0", "127.0.0.1:2", 20001, "b.example.com");
  uint64_t version = board.version();
  board.retire(a);
  EXPECT_GT(board.version(), version);
  board.set_state(a, TunnelState::kStopped);  // its thread winding down still reports
  auto snapshot = board.snapshot();
  ASSERT_EQ(snapshot.size(), 1u);
  EXPECT_EQ(snapshot[0].name, "b.example.com#0");
  EXPECT_EQ(snapshot[0].service, "b.example.com");
  board.add_bytes(b, 1, 2);
  EXPECT_EQ(board.snapshot()[0].bytes_out, 2u);
}

}  // namespace
}  // namespace cloudlink::home
