// cloudlink.yaml (home-agent/config): the strict parser's errors name the field and the
// problem; the writer's output reads back to the same model, atomically and 0600.
#include "home-agent/config/agent_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "temp_dir.h"
#include "test_result.h"

namespace cloudlink::home {
namespace {

constexpr const char* kFull = R"(server:
  url: https://cloud.example.com
  token: abc123
ssh:
  host: vps.example.com
  port: 2222
  user: cloudlink
  private_key: home_key
  known_host_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDZZTn6Mv7PUy0EVJKjNJVmc2TcRF6jsrNTwRGJ6SAHo"
home:
  id: h1
  slug: alice-home
services:
  - hostname: app.example.com
    target: "127.0.0.1:8443"
    tunnel_ports: [20000, 20001]
    connections: 2
    proxy_protocol: true
  - hostname: v6.example.com
    target: "[::1]:443"
    tunnel_ports: [20002]
)";

TEST(AgentConfig, ParsesAFullFile) {
  auto config = parse_agent_config(kFull, "cloudlink.yaml");
  ASSERT_OK(config);
  ASSERT_TRUE(config->server);
  EXPECT_EQ(config->server->url, "https://cloud.example.com");
  EXPECT_EQ(config->ssh->port, 2222);
  EXPECT_EQ(config->ssh->private_key, "home_key");
  EXPECT_EQ(config->home->slug, "alice-home");
  ASSERT_EQ(config->services.size(), 2u);
  const auto& app = config->services[0];
  EXPECT_EQ(app.target_host, "127.0.0.1");
  EXPECT_EQ(app.target_port, 8443);
  EXPECT_EQ(app.tunnel_ports, (std::vector<uint16_t>{20000, 20001}));
  EXPECT_EQ(app.connections, 2);
  EXPECT_TRUE(app.proxy_protocol);
  EXPECT_EQ(config->services[1].target_host, "::1");
  EXPECT_EQ(config->services[1].target(), "[::1]:443");
  EXPECT_EQ(config->services[1].connections, 1);
  EXPECT_FALSE(config->services[1].proxy_protocol);
  EXPECT_OK(require_runnable(*config, "cloudlink.yaml"));
  EXPECT_EQ(config->find_service("v6.example.com"), &config->services[1]);
  EXPECT_EQ(config->find_service("nope.example.com"), nullptr);
}

TEST(AgentConfig, DefaultsAndOptionalSections) {
  auto config = parse_agent_config("server: {url: http://127.0.0.1:8080}\n", "c.yaml");
  ASSERT_OK(config);
  EXPECT_FALSE(config->ssh);
  EXPECT_TRUE(config->services.empty());
  EXPECT_EQ(config->server->token, "");
  EXPECT_ERR_WITH(require_runnable(*config, "c.yaml"), "c.yaml: ssh: missing");
  auto ssh = parse_agent_config("ssh: {host: 10.0.0.1}\n", "c.yaml");
  ASSERT_OK(ssh);
  EXPECT_EQ(ssh->ssh->port, 22);
  EXPECT_EQ(ssh->ssh->user, "cloudlink");
}

struct BadCase {
  const char* description;
  std::string text;
  const char* expected;  // the whole error message
};

class AgentConfigErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(AgentConfigErrors, OneMessageNamingFieldAndProblem) {
  const BadCase& c = GetParam();
  auto config = parse_agent_config(c.text, "cloudlink.yaml");
  ASSERT_FALSE(config.ok()) << c.description;
  EXPECT_EQ(config.error().message(), c.expected) << c.description;
}

const std::string kService =
    "services:\n  - hostname: a.example.com\n    target: \"127.0.0.1:80\"\n";

INSTANTIATE_TEST_SUITE_P(
    Table, AgentConfigErrors,
    ::testing::Values(
        BadCase{"empty", "", "cloudlink.yaml: the file is empty"},
        BadCase{"a list", "- 1\n", "cloudlink.yaml: (top level): expected a mapping, got a list"},
        BadCase{"scalar", "hello\n",
                "cloudlink.yaml: (top level): expected a mapping, got a value"},
        BadCase{"unknown top", "sever: {url: http://x}\n", "cloudlink.yaml: sever: unknown field"},
        BadCase{"unknown nested", "ssh: {host: x, pot: 22}\n",
                "cloudlink.yaml: ssh.pot: unknown field"},
        BadCase{"duplicate", "ssh: {host: x}\nssh: {host: y}\n",
                "cloudlink.yaml: ssh: appears twice"},
        BadCase{"missing url", "server: {token: t}\n", "cloudlink.yaml: server.url: missing"},
        BadCase{"bad url", "server: {url: ftp://x}\n",
                "cloudlink.yaml: server.url: expected an http:// or https:// URL, got \"ftp://x\""},
        BadCase{"port zero", "ssh: {host: x, port: 0}\n",
                "cloudlink.yaml: ssh.port: expected a number from 1 to 65535, got \"0\""},
        BadCase{"port big", "ssh: {host: x, port: 65536}\n",
                "cloudlink.yaml: ssh.port: expected a number from 1 to 65535, got \"65536\""},
        BadCase{"port hex", "ssh: {host: x, port: 0x16}\n",
                "cloudlink.yaml: ssh.port: expected a number from 1 to 65535, got \"0x16\""},
        BadCase{"port negative", "ssh: {host: x, port: -1}\n",
                "cloudlink.yaml: ssh.port: expected a number from 1 to 65535, got \"-1\""},
        BadCase{"port huge", "ssh: {host: x, port: 99999999999999999999999}\n",
                "cloudlink.yaml: ssh.port: expected a number from 1 to 65535, got "
                "\"99999999999999999999999\""},
        BadCase{"port list", "ssh: {host: x, port: [22]}\n",
                "cloudlink.yaml: ssh.port: expected a value, got a list"},
        BadCase{"empty host", "ssh: {host: }\n",
                "cloudlink.yaml: ssh.host: expected a value, got nothing"},
        BadCase{"bad host", "ssh: {host: \"a b\"}\n",
                "cloudlink.yaml: ssh.host: expected a host name or address, got \"a b\""},
        BadCase{"bad key line", "ssh: {host: x, known_host_key: \"ssh-foo AAAA\"}\n",
                "cloudlink.yaml: ssh.known_host_key: unknown key type \"ssh-foo\""},
        BadCase{"key not base64", "ssh: {host: x, known_host_key: \"ssh-ed25519 A*AA\"}\n",
                "cloudlink.yaml: ssh.known_host_key: key is not base64"},
        BadCase{"bad user", "ssh: {host: x, user: Root}\n",
                "cloudlink.yaml: ssh.user: not a user name: \"Root\""},
        BadCase{"bad target", kService.substr(0, kService.size() - 15) + "\"x\"\n",
                "cloudlink.yaml: services[0].target: expected HOST:PORT, got \"x\""},
        BadCase{"missing ports", kService, "cloudlink.yaml: services[0].tunnel_ports: missing"},
        BadCase{"empty ports", kService + "    tunnel_ports: []\n",
                "cloudlink.yaml: services[0].tunnel_ports: empty list"},
        BadCase{"duplicate port", kService + "    tunnel_ports: [1, 1]\n",
                "cloudlink.yaml: services[0].tunnel_ports[1]: port 1 appears twice"},
        BadCase{"too many connections", kService + "    tunnel_ports: [1]\n    connections: 2\n",
                "cloudlink.yaml: services[0].connections: 2 connections need as many "
                "tunnel_ports, got 1"},
        BadCase{"connections range", kService + "    tunnel_ports: [1]\n    connections: 17\n",
                "cloudlink.yaml: services[0].connections: expected a number from 1 to 16, got "
                "\"17\""},
        BadCase{"yes is not a bool", kService + "    tunnel_ports: [1]\n    proxy_protocol: yes\n",
                "cloudlink.yaml: services[0].proxy_protocol: expected true or false, got \"yes\""},
        BadCase{"upper-case hostname",
                "services:\n  - {hostname: A.example.com, target: \"x:1\", tunnel_ports: [1]}\n",
                "cloudlink.yaml: services[0].hostname: invalid hostname: label 1 has an upper-case "
                "letter 'A' at position 0; route hostnames are lower-case: use 'a.example.com'"},
        BadCase{"duplicate service",
                "services:\n  - {hostname: a.b.c, target: \"x:1\", tunnel_ports: [1]}\n"
                "  - {hostname: a.b.c, target: \"x:1\", tunnel_ports: [2]}\n",
                "cloudlink.yaml: services[1].hostname: appears twice"},
        BadCase{"port shared by two services",
                "services:\n  - {hostname: a.b.c, target: \"x:1\", tunnel_ports: [1, 2]}\n"
                "  - {hostname: d.b.c, target: \"x:1\", tunnel_ports: [3, 2]}\n",
                "cloudlink.yaml: services[1].tunnel_ports[1]: port 2 is also services[0]'s"},
        BadCase{"truncated", "ssh: {host: x, port: 22\n",
                "cloudlink.yaml:2:1: end of map flow not found"},
        BadCase{"bad indentation", "ssh:\n  host: x\n port: 1\n",
                "cloudlink.yaml:3:2: end of map not found"},
        BadCase{"not UTF-8 (fuzz)", "ssh: {host: x, private_key: \"k\xff\"}\n",
                "cloudlink.yaml: not UTF-8 text (byte 31)"},
        BadCase{"overlong UTF-8", "ssh: {host: x, private_key: \"k\xc0\xaf\"}\n",
                "cloudlink.yaml: not UTF-8 text (byte 31)"},
        BadCase{"yaml-cpp's endless documents (fuzz)",
                ",sh: x,pt: ", "cloudlink.yaml:1:1: not YAML that can be read"},
        BadCase{"two documents", "ssh: {host: x}\n---\nssh: {host: y}\n",
                "cloudlink.yaml: more than one document"},
        BadCase{"NUL", std::string("ssh: {host: x}\0", 15), "cloudlink.yaml: contains a NUL byte"},
        BadCase{"control byte in key", "\"a\\x01\": 1\n", "cloudlink.yaml: a\\x01: unknown field"},
        BadCase{"oversized", "# " + std::string(kMaxConfigBytes, 'x') + "\n",
                "cloudlink.yaml: larger than 262144 bytes"}));

TEST(AgentConfig, DeepNestingIsAnErrorNotACrash) {
  std::string deep = "ssh: " + std::string(100000, '[');
  auto config = parse_agent_config(deep, "c.yaml");
  EXPECT_FALSE(config.ok());
}

TEST(AgentConfig, SaveThenLoadRoundTrips) {
  testing::TempDir dir;
  auto config = parse_agent_config(kFull, "cloudlink.yaml");
  ASSERT_OK(config);
  config->server->token = "null";  // must stay text, not become YAML null
  std::string path = dir.path() + "/cloudlink.yaml";
  ASSERT_OK(save_agent_config(path, *config));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = load_agent_config(path);
  ASSERT_OK(loaded);
  EXPECT_EQ(*loaded, *config);
  // Saving again replaces the file (no temporary left behind).
  config->services.pop_back();
  ASSERT_OK(save_agent_config(path, *config));
  auto again = load_agent_config(path);
  ASSERT_OK(again);
  EXPECT_EQ(again->services.size(), 1u);
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1u);
}

TEST(AgentConfig, SaveRefusesWhatLoadWouldRefuse) {
  testing::TempDir dir;
  AgentConfig config;
  config.services.push_back(ServiceConfig{"Bad Name", "x", 1, {1}, 1, false});
  EXPECT_ERR_WITH(save_agent_config(dir.path() + "/c.yaml", config), "refusing to write");
}

TEST(AgentConfig, LoadNamesTheFile) {
  testing::TempDir dir;
  std::string path = dir.path() + "/missing.yaml";
  auto missing = load_agent_config(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(), path + ": cannot read: No such file or directory");
  std::string big = dir.path() + "/big.yaml";
  std::ofstream(big) << std::string(kMaxConfigBytes + 1, '#');
  EXPECT_ERR_WITH(load_agent_config(big), "larger than");
}

TEST(AgentConfig, PathsAndEnvironment) {
  EXPECT_EQ(config_path("x.yaml"), "x.yaml");
  ::setenv("CLOUDLINK_CONFIG", "/etc/c.yaml", 1);
  EXPECT_EQ(config_path(""), "/etc/c.yaml");
  ::unsetenv("CLOUDLINK_CONFIG");
  EXPECT_EQ(config_path(""), "cloudlink.yaml");
  EXPECT_EQ(resolve_key_path("/etc/cl/cloudlink.yaml", "key"), "/etc/cl/key");
  EXPECT_EQ(resolve_key_path("cloudlink.yaml", "key"), "key");
  EXPECT_EQ(resolve_key_path("/etc/cl/cloudlink.yaml", "/k"), "/k");
}

}  // namespace
}  // namespace cloudlink::home
