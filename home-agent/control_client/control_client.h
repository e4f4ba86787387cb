// The home agent's client for cloudlink-control's REST API (control/api): log in, create a
// home, create and delete hostname mappings. HTTPS verifies the server's certificate against
// the system store or a given CA bundle; plain http:// is accepted only to this machine
// (localhost, 127.0.0.0/8, ::1).
// Failures come back as values: a refused request carries the HTTP status (http_status()) and
// the server's own `{"error":{"code","message"}}` text; an unreachable server says so.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace cloudlink::home {

struct ControlOptions {
  std::string url;        // http(s)://host[:port], no path
  std::string ca_bundle;  // PEM file the server's certificate must chain to ("": system store)
  std::chrono::milliseconds timeout{10000};
};

// What POST /api/homes answers, the fields the agent keeps.
struct HomeInfo {
  std::string id;
  std::string slug;
  std::string name;
  std::string ssh_user;
  std::string ssh_host;
  uint16_t ssh_port = 0;
  std::vector<uint16_t> ports;  // the home's block of tunnel ports on the VPS loopback
};

struct MappingRequest {
  std::string hostname;
  std::vector<uint16_t> tls_ports;
  std::optional<uint16_t> http_port;
  bool proxy_protocol_v2 = false;
};

struct MappingInfo {
  std::string hostname;
  std::string home_id;
  std::vector<uint16_t> tls_ports;
  std::optional<uint16_t> http_port;
  std::string proxy_protocol;  // "none" or "v2"
};

// The HTTP status of an error the server answered (401, 403, 404, 409, ...); 0 when the
// error is not an answer (unreachable, TLS failure, unreadable body).
int http_status(const Error& error);

class ControlClient {
 public:
  // Checks the URL (scheme http or https, a host, no path); does not connect yet.
  static Result<std::unique_ptr<ControlClient>> create(ControlOptions options);
  ~ControlClient();

  const std::string& url() const { return options_.url; }

  // POST /api/login: the bearer token, also used by this client from then on.
  Result<std::string> login(const std::string& username, const std::string& password);
  // Uses a token obtained earlier.
  void set_token(std::string token);

  Result<HomeInfo> create_home(const std::string& name, const std::string& public_key);
  Result<HomeInfo> get_home(const std::string& home_id);
  Result<void> delete_home(const std::string& home_id);
  Result<MappingInfo> create_mapping(const std::string& home_id, const MappingRequest& request);
  Result<void> delete_mapping(const std::string& home_id, const std::string& hostname);
  Result<MappingInfo> get_mapping(const std::string& home_id, const std::string& hostname);
  // PATCH of http_port alone; nullopt removes the mapping's HTTP target.
  Result<MappingInfo> set_http_port(const std::string& home_id, const std::string& hostname,
                                    std::optional<uint16_t> http_port);

 private:
  struct Http;
  struct Reply {
    int status = 0;
    std::string body;
  };
  explicit ControlClient(ControlOptions options);

  // One request; an error unless the status is `expected`.
  Result<Reply> request(const char* method, const std::string& path, const std::string& body,
                        int expected);

  ControlOptions options_;
  std::string token_;
  std::unique_ptr<Http> http_;
};

}  // namespace cloudlink::home
