#include "home-agent/control_client/control_client.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <simdjson.h>
#include <unistd.h>

#include <cctype>
#include <nlohmann/json.hpp>

namespace cloudlink::home {
namespace {

class ControlApiCategory : public std::error_category {
 public:
  const char* name() const noexcept override { return "control_api"; }
  std::string message(int status) const override { return "HTTP " + std::to_string(status); }
};

const ControlApiCategory& control_api_category() {
  static const ControlApiCategory category;
  return category;
}

Error answer_error(int status, std::string message) {
  return Error(std::error_code(status, control_api_category()), std::move(message));
}

// A 2xx body control should not have sent: its fault, not a refusal (status 0).
Error bad_answer(const std::string& what) {
  return Error(EPROTO, "control answered an unexpected body (" + what + ")");
}

// The server's "message" of {"error":{"code","message"}}, or the raw start of the body.
std::string server_message(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view message;
  if (!parser.parse(body).get(doc) && !doc["error"]["message"].get_string().get(message)) {
    return std::string(message);
  }
  return body.empty() ? std::string("no error message") : body.substr(0, 200);
}

Result<std::string> get_string(simdjson::dom::element object, const char* key) {
  std::string_view value;
  if (object[key].get_string().get(value)) return bad_answer(std::string("no string ") + key);
  return std::string(value);
}

Result<uint16_t> get_port(simdjson::dom::element value, const char* key) {
  uint64_t port = 0;
  if (value.get_uint64().get(port) || port == 0 || port > 65535) {
    return bad_answer(std::string(key) + " is not a port");
  }
  return static_cast<uint16_t>(port);
}

Result<std::vector<uint16_t>> get_ports(simdjson::dom::element object, const char* key) {
  simdjson::dom::array array;
  if (object[key].get_array().get(array)) return bad_answer(std::string("no array ") + key);
  std::vector<uint16_t> ports;
  for (simdjson::dom::element element : array) {
    auto port = get_port(element, key);
    if (!port) return port.error();
    ports.push_back(*port);
  }
  return ports;
}

Result<HomeInfo> parse_home(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc)) return bad_answer("not JSON");
  HomeInfo home;
  for (auto [key, field] :
       {std::pair{"id", &home.id}, std::pair{"slug", &home.slug}, std::pair{"name", &home.name},
        std::pair{"ssh_user", &home.ssh_user}, std::pair{"ssh_host", &home.ssh_host}}) {
    auto value = get_string(doc, key);
    if (!value) return value.error();
    *field = std::move(*value);
  }
  simdjson::dom::element port;
  if (doc["ssh_port"].get(port)) return bad_answer("no ssh_port");
  auto ssh_port = get_port(port, "ssh_port");
  if (!ssh_port) return ssh_port.error();
  home.ssh_port = *ssh_port;
  auto ports = get_ports(doc, "ports");
  if (!ports) return ports.error();
  home.ports = std::move(*ports);
  return home;
}

Result<MappingInfo> parse_mapping(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc)) return bad_answer("not JSON");
  MappingInfo mapping;
  for (auto [key, field] :
       {std::pair{"hostname", &mapping.hostname}, std::pair{"home_id", &mapping.home_id},
        std::pair{"proxy_protocol", &mapping.proxy_protocol}}) {
    auto value = get_string(doc, key);
    if (!value) return value.error();
    *field = std::move(*value);
  }
  auto ports = get_ports(doc, "tls_ports");
  if (!ports) return ports.error();
  mapping.tls_ports = std::move(*ports);
  simdjson::dom::element http_port;
  if (!doc["http_port"].get(http_port) && !http_port.is_null()) {
    auto port = get_port(http_port, "http_port");
    if (!port) return port.error();
    mapping.http_port = *port;
  }
  return mapping;
}

// One path segment, percent-encoded except RFC 3986 unreserved characters (and '*', which a
// wildcard hostname starts with).
std::string path_segment(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '*') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

// The host of "host[:port]" or "[v6]:port" is this machine: localhost, 127.0.0.0/8 or ::1.
bool is_loopback_authority(const std::string& authority) {
  std::string host = authority;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(1, host.find(']') - 1);
  } else if (host.find(':') != std::string::npos) {
    host.resize(host.find(':'));
  }
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return host == "localhost";
}

// "http(s)://host[:port]" with nothing after the authority but an optional '/'; plain http
// only to this machine, since the password and the token travel in the requests.
Result<std::string> check_url(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos ||
      (url.compare(0, scheme, "https") != 0 && url.compare(0, scheme, "http") != 0)) {
    return Error(std::error_code(),
                 "control URL must start with https:// or http://: " + url.substr(0, 200));
  }
  const std::string authority = url.substr(scheme + 3);
  if (authority.empty() || authority.find_first_of("/?#@ ") != std::string::npos) {
    return Error(std::error_code(),
                 "control URL must be scheme://host[:port] with no path: " + url.substr(0, 200));
  }
  if (url.compare(0, scheme, "http") == 0 && !is_loopback_authority(authority)) {
    return Error(std::error_code(), "control URL " + url.substr(0, 200) +
                                        ": plain http:// only to this machine; use https://");
  }
  return url;
}

}  // namespace

int http_status(const Error& error) {
  return error.code().category() == control_api_category() ? error.value() : 0;
}

struct ControlClient::Http {
  explicit Http(const ControlOptions& options) : client(options.url) {
    const auto ms = options.timeout.count();
    client.set_connection_timeout(ms / 1000, (ms % 1000) * 1000);
    client.set_read_timeout(ms / 1000, (ms % 1000) * 1000);
    client.set_write_timeout(ms / 1000, (ms % 1000) * 1000);
    client.enable_server_certificate_verification(true);
    if (!options.ca_bundle.empty()) client.set_ca_cert_path(options.ca_bundle.c_str());
    client.set_keep_alive(true);
  }

  httplib::Client client;
};

ControlClient::ControlClient(ControlOptions options)
    : options_(std::move(options)), http_(std::make_unique<Http>(options_)) {}

ControlClient::~ControlClient() = default;

Result<std::unique_ptr<ControlClient>> ControlClient::create(ControlOptions options) {
  auto url = check_url(options.url);
  if (!url) return url.error();
  options.url = std::move(*url);
  if (!options.ca_bundle.empty() && access(options.ca_bundle.c_str(), R_OK) != 0) {
    return errno_error("CA bundle " + options.ca_bundle);
  }
  return std::unique_ptr<ControlClient>(new ControlClient(std::move(options)));
}

void ControlClient::set_token(std::string token) {
  token_ = std::move(token);
  http_->client.set_bearer_token_auth(token_);
}

Result<ControlClient::Reply> ControlClient::request(const char* method, const std::string& path,
                                                    const std::string& body, int expected) {
  httplib::Result result = [&] {
    const std::string_view verb(method);
    if (verb == "POST") return http_->client.Post(path, body, "application/json");
    if (verb == "DELETE") return http_->client.Delete(path);
    if (verb == "PATCH") return http_->client.Patch(path, body, "application/json");
    return http_->client.Get(path);
  }();
  const std::string what = std::string(method) + " " + options_.url + path;
  if (!result) {
    auto error = result.error();
    std::string reason = httplib::to_string(error);
    std::string summary = "control request failed: ";
    if (error == httplib::Error::Connection) {
      summary = "control unreachable: ";
      reason = "could not connect";
    } else if (error == httplib::Error::SSLServerVerification) {
      reason += " (the server's certificate is not trusted; --ca-bundle FILE names a CA)";
    }
    // No errno: httplib does not keep it, and a guessed one would print a wrong reason.
    return Error(std::error_code(), summary + what + ": " + reason);
  }
  if (result->status != expected) {
    return answer_error(result->status,
                        "control refused " + what + ": " + server_message(result->body));
  }
  return Reply{result->status, std::move(result->body)};
}

Result<std::string> ControlClient::login(const std::string& username, const std::string& password) {
  nlohmann::json body = {{"username", username}, {"password", password}};
  auto reply = request("POST", "/api/login", body.dump(), 200);
  if (!reply) return reply.error();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(reply->body).get(doc)) return bad_answer("not JSON");
  auto token = get_string(doc, "token");
  if (!token) return token.error();
  set_token(*token);
  return token;
}

Result<HomeInfo> ControlClient::create_home(const std::string& name,
                                            const std::string& public_key) {
  nlohmann::json body = {{"name", name}, {"public_key", public_key}};
  auto reply = request("POST", "/api/homes", body.dump(), 201);
  if (!reply) return reply.error();
  return parse_home(reply->body);
}

Result<HomeInfo> ControlClient::get_home(const std::string& home_id) {
  auto reply = request("GET", "/api/homes/" + path_segment(home_id), "", 200);
  if (!reply) return reply.error();
  return parse_home(reply->body);
}

Result<void> ControlClient::delete_home(const std::string& home_id) {
  auto reply = request("DELETE", "/api/homes/" + path_segment(home_id), "", 204);
  if (!reply) return reply.error();
  return ok();
}

Result<MappingInfo> ControlClient::create_mapping(const std::string& home_id,
                                                  const MappingRequest& mapping) {
  nlohmann::json body = {{"hostname", mapping.hostname}, {"tls_ports", mapping.tls_ports}};
  if (mapping.http_port) body["http_port"] = *mapping.http_port;
  if (mapping.proxy_protocol_v2) body["proxy_protocol"] = "v2";
  auto reply =
      request("POST", "/api/homes/" + path_segment(home_id) + "/mappings", body.dump(), 201);
  if (!reply) return reply.error();
  return parse_mapping(reply->body);
}

Result<void> ControlClient::delete_mapping(const std::string& home_id,
                                           const std::string& hostname) {
  auto reply = request(
      "DELETE", "/api/homes/" + path_segment(home_id) + "/mappings/" + path_segment(hostname), "",
      204);
  if (!reply) return reply.error();
  return ok();
}

Result<MappingInfo> ControlClient::get_mapping(const std::string& home_id,
                                               const std::string& hostname) {
  auto reply =
      request("GET", "/api/homes/" + path_segment(home_id) + "/mappings/" + path_segment(hostname),
              "", 200);
  if (!reply) return reply.error();
  return parse_mapping(reply->body);
}

Result<MappingInfo> ControlClient::set_http_port(const std::string& home_id,
                                                 const std::string& hostname,
                                                 std::optional<uint16_t> http_port) {
  nlohmann::json body = {{"http_port", http_port.value_or(0)}};
  auto reply = request(
      "PATCH", "/api/homes/" + path_segment(home_id) + "/mappings/" + path_segment(hostname),
      body.dump(), 200);
  if (!reply) return reply.error();
  return parse_mapping(reply->body);
}

}  // namespace cloudlink::home
