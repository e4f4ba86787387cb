// home-agent/control_client against a canned cpp-httplib server on loopback (the real
// control API is exercised by tests/integration/home_register_test.py), and the choice of
// tunnel ports for a new service.
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "home-agent/control_client/control_client.h"
#include "home-agent/enroll/tunnel_ports.h"
#include "test_result.h"

namespace cloudlink::home {
namespace {

constexpr const char* kHome =
    R"({"id":"h1","slug":"alice-home","name":"home","owner":"alice","key_type":"ssh-ed25519",)"
    R"("public_key":"ssh-ed25519 AAAA","ports":[20000,20001,20002],"created_at":1,)"
    R"("ssh_user":"cloudlink","ssh_host":"vps.example.net","ssh_port":2222})";

class CannedServer {
 public:
  CannedServer() {
    server_.Post("/api/login", [](const httplib::Request& request, httplib::Response& response) {
      if (request.body.find("\"right\"") == std::string::npos) {
        response.status = 401;
        response.set_content(
            R"({"error":{"code":"unauthorized","message":"wrong username or password"}})",
            "application/json");
        return;
      }
      response.set_content(R"({"token":"tok123","expires_at":1,"username":"a","role":"user"})",
                           "application/json");
    });
    server_.Post("/api/homes",
                 [this](const httplib::Request& request, httplib::Response& response) {
                   authorization_ = request.get_header_value("Authorization");
                   response.status = 201;
                   response.set_content(kHome, "application/json");
                 });
    server_.Post("/api/homes/h1/mappings", [this](const httplib::Request& request,
                                                  httplib::Response& response) {
      last_body_ = request.body;
      if (request.body.find("taken.example.com") != std::string::npos) {
        response.status = 409;
        response.set_content(
            R"({"error":{"code":"conflict","message":"hostname taken.example.com is mapped already"}})",
            "application/json");
        return;
      }
      response.status = 201;
      response.set_content(
          R"({"hostname":"app.example.com","home_id":"h1","tls_ports":[20000,20001],)"
          R"("http_port":null,"proxy_protocol":"v2","created_at":1,"updated_at":1})",
          "application/json");
    });
    server_.Delete(
        "/api/homes/h1/mappings/app.example.com",
        [](const httplib::Request&, httplib::Response& response) { response.status = 204; });
    server_.Get("/api/homes/h1", [](const httplib::Request&, httplib::Response& response) {
      response.set_content(R"({"id":"h1"})", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~CannedServer() {
    server_.stop();
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string authorization_;
  std::string last_body_;

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

std::unique_ptr<ControlClient> client_for(const std::string& url) {
  auto client = ControlClient::create({url, "", std::chrono::milliseconds(3000)});
  EXPECT_OK(client);
  return client ? std::move(*client) : nullptr;
}

TEST(ControlClient, RefusesBadUrls) {
  for (const char* bad : {"", "ftp://x", "vps.example.net", "https://", "https://x/api",
                          "https://user@x", "https://x?y"}) {
    EXPECT_ERR(ControlClient::create({bad, "", std::chrono::milliseconds(1000)})) << bad;
  }
  EXPECT_OK(ControlClient::create({"https://x:8443/", "", std::chrono::milliseconds(1000)}));
  // Plain http carries the password and the token: only to this machine.
  for (const char* local :
       {"http://127.0.0.1:8000", "http://127.9.9.9", "http://localhost:80", "http://[::1]:8000"}) {
    EXPECT_OK(ControlClient::create({local, "", std::chrono::milliseconds(1000)})) << local;
  }
  for (const char* remote : {"http://vps.example.net", "http://10.0.0.1:8000", "http://[::2]:80",
                             "http://128.0.0.1", "http://localhost.example.net"}) {
    EXPECT_ERR_WITH(ControlClient::create({remote, "", std::chrono::milliseconds(1000)}),
                    "only to this machine")
        << remote;
  }
  EXPECT_ERR_WITH(ControlClient::create({"https://x", "/nonexistent/ca.pem", {}}), "CA bundle");
}

TEST(ControlClient, LogsInAndSendsTheToken) {
  CannedServer server;
  auto client = client_for(server.url());
  auto token = client->login("alice", "right");
  ASSERT_OK(token);
  EXPECT_EQ(*token, "tok123");
  auto home = client->create_home("home", "ssh-ed25519 AAAA");
  ASSERT_OK(home);
  EXPECT_EQ(server.authorization_, "Bearer tok123");
  EXPECT_EQ(home->id, "h1");
  EXPECT_EQ(home->slug, "alice-home");
  EXPECT_EQ(home->ssh_user, "cloudlink");
  EXPECT_EQ(home->ssh_host, "vps.example.net");
  EXPECT_EQ(home->ssh_port, 2222);
  EXPECT_EQ(home->ports, (std::vector<uint16_t>{20000, 20001, 20002}));
}

TEST(ControlClient, SurfacesTheServersMessageAndStatus) {
  CannedServer server;
  auto client = client_for(server.url());
  auto token = client->login("alice", "wrong");
  EXPECT_ERR_WITH(token, "wrong username or password");
  EXPECT_EQ(http_status(token.error()), 401);
  auto mapping = client->create_mapping("h1", {"taken.example.com", {20000}, {}, false});
  EXPECT_ERR_WITH(mapping, "hostname taken.example.com is mapped already");
  EXPECT_EQ(http_status(mapping.error()), 409);
}

TEST(ControlClient, CreatesAndDeletesMappings) {
  CannedServer server;
  auto client = client_for(server.url());
  auto mapping = client->create_mapping("h1", {"app.example.com", {20000, 20001}, {}, true});
  ASSERT_OK(mapping);
  EXPECT_EQ(server.last_body_,
            R"({"hostname":"app.example.com","proxy_protocol":"v2","tls_ports":[20000,20001]})");
  EXPECT_EQ(mapping->tls_ports, (std::vector<uint16_t>{20000, 20001}));
  EXPECT_FALSE(mapping->http_port.has_value());
  EXPECT_EQ(mapping->proxy_protocol, "v2");
  EXPECT_OK(client->delete_mapping("h1", "app.example.com"));
  auto missing = client->delete_mapping("h1", "other.example.com");
  EXPECT_EQ(http_status(missing.error()), 404);
}

TEST(ControlClient, AnIncompleteAnswerIsAnErrorNotAStatus) {
  CannedServer server;
  auto client = client_for(server.url());
  auto home = client->get_home("h1");
  EXPECT_ERR_WITH(home, "unexpected body");
  EXPECT_EQ(http_status(home.error()), 0);
}

TEST(ControlClient, UnreachableServerSaysSo) {
  // A port the kernel just handed out and nobody listens on.
  int port = 0;
  {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
    port = ntohs(address.sin_port);
    close(fd);
  }
  auto client = client_for("http://127.0.0.1:" + std::to_string(port));
  auto token = client->login("alice", "right");
  EXPECT_ERR_WITH(token, "control unreachable");
  EXPECT_EQ(http_status(token.error()), 0);
}

TEST(TunnelPorts, PicksTheLowestFreePortsOfTheBlock) {
  const std::vector<uint16_t> block{20000, 20001, 20002, 20003};
  auto picked = pick_tunnel_ports(block, {20000, 20002}, 2);
  ASSERT_OK(picked);
  EXPECT_EQ(*picked, (std::vector<uint16_t>{20001, 20003}));
  auto one = pick_tunnel_ports(block, {}, 1);
  ASSERT_OK(one);
  EXPECT_EQ(*one, (std::vector<uint16_t>{20000}));
}

TEST(TunnelPorts, SaysHowManyAreFree) {
  const std::vector<uint16_t> block{20000, 20001, 20002};
  EXPECT_ERR_WITH(pick_tunnel_ports(block, {20000, 20001}, 2), "1 free port(s), 2 wanted");
  EXPECT_ERR(pick_tunnel_ports(block, {}, 0));
  EXPECT_ERR(pick_tunnel_ports({}, {}, 1));
}

}  // namespace
}  // namespace cloudlink::home
