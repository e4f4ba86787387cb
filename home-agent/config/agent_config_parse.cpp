// The strict reader of cloudlink.yaml. yaml-cpp throws on malformed YAML and on type
// conversions; both are caught here, at the only place it is called, and become one error
// line. Scalars are read as text and checked by hand (yaml-cpp would accept "0x50" or "1e3"
// as numbers and "yes" as true).
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "common/hostname.h"
#include "home-agent/config/agent_config.h"
#include "home-agent/config/field_checks.h"

namespace cloudlink::home {

namespace {

// A field's problem, unwound to parse_agent_config, which adds the source name.
struct FieldError {
  std::string field;
  std::string problem;
};

[[noreturn]] void fail(const std::string& field, std::string problem) {
  throw FieldError{field, std::move(problem)};
}

const char* kind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return "a value";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "nothing";
  }
}

std::string scalar(const YAML::Node& node, const std::string& field) {
  if (!node.IsScalar()) fail(field, std::string("expected a value, got ") + kind(node));
  return node.Scalar();
}

std::string string_field(const YAML::Node& node, const std::string& field, size_t max_length) {
  std::string text = scalar(node, field);
  if (text.size() > max_length) {
    fail(field, "longer than " + std::to_string(max_length) + " bytes");
  }
  return text;
}

uint64_t number_field(const YAML::Node& node, const std::string& field, uint64_t min,
                      uint64_t max) {
  std::string text = scalar(node, field);
  auto value = parse_decimal(text, min, max);
  if (!value) {
    fail(field, "expected a number from " + std::to_string(min) + " to " + std::to_string(max) +
                    ", got " + quote(text));
  }
  return *value;
}

bool bool_field(const YAML::Node& node, const std::string& field) {
  std::string text = scalar(node, field);
  if (text == "true") return true;
  if (text == "false") return false;
  fail(field, "expected true or false, got " + quote(text));
}

void check(const std::string& field, const std::string& problem) {
  if (!problem.empty()) fail(field, problem);
}

using FieldReader = std::function<void(const YAML::Node&, const std::string&)>;

// Walks a mapping: every key must be known and appear once; required keys must be present.
void read_map(const YAML::Node& node, const std::string& field,
              const std::map<std::string, FieldReader>& readers,
              const std::set<std::string>& required) {
  if (!node.IsMap()) fail(field, std::string("expected a mapping, got ") + kind(node));
  std::set<std::string> seen;
  std::string prefix = field.empty() ? "" : field + ".";
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) fail(field.empty() ? "(top level)" : field, "non-text key");
    const std::string& key = entry.first.Scalar();
    auto reader = readers.find(key);
    if (reader == readers.end()) {
      std::string shown = quote(key);
      fail(prefix + shown.substr(1, shown.size() - 2), "unknown field");
    }
    if (!seen.insert(key).second) fail(prefix + key, "appears twice");
    reader->second(entry.second, prefix + key);
  }
  for (const auto& key : required) {
    if (!seen.count(key)) fail(prefix + key, "missing");
  }
}

ServerConfig read_server(const YAML::Node& node, const std::string& field) {
  ServerConfig server;
  read_map(node, field,
           {{"url",
             [&](const YAML::Node& n, const std::string& f) {
               server.url = scalar(n, f);
               check(f, check_url(server.url));
             }},
            {"token",
             [&](const YAML::Node& n, const std::string& f) {
               server.token = scalar(n, f);
               check(f, check_token(server.token, 1024));
             }}},
           {"url"});
  return server;
}

SshConfig read_ssh(const YAML::Node& node, const std::string& field) {
  SshConfig ssh;
  read_map(node, field,
           {{"host",
             [&](const YAML::Node& n, const std::string& f) {
               ssh.host = string_field(n, f, 253);
               if (!is_host(ssh.host))
                 fail(f, "expected a host name or address, got " + quote(ssh.host));
             }},
            {"port",
             [&](const YAML::Node& n, const std::string& f) {
               ssh.port = static_cast<uint16_t>(number_field(n, f, 1, 65535));
             }},
            {"user",
             [&](const YAML::Node& n, const std::string& f) {
               ssh.user = scalar(n, f);
               check(f, check_user(ssh.user));
             }},
            {"private_key",
             [&](const YAML::Node& n, const std::string& f) {
               ssh.private_key = scalar(n, f);
               check(f, check_path(ssh.private_key));
             }},
            {"known_host_key",
             [&](const YAML::Node& n, const std::string& f) {
               ssh.known_host_key = scalar(n, f);
               check(f, check_public_key_line(ssh.known_host_key));
             }}},
           {"host"});
  return ssh;
}

std::string check_id(std::string_view text) {
  if (text.empty() || text.size() > 64) return "expected 1 to 64 characters";
  for (unsigned char c : text) {
    if (!std::isalnum(c) && c != '-' && c != '_') return "unexpected character in " + quote(text);
  }
  return {};
}

HomeConfig read_home(const YAML::Node& node, const std::string& field) {
  HomeConfig home;
  read_map(node, field,
           {{"id",
             [&](const YAML::Node& n, const std::string& f) {
               home.id = scalar(n, f);
               check(f, check_id(home.id));
             }},
            {"slug",
             [&](const YAML::Node& n, const std::string& f) {
               home.slug = scalar(n, f);
               check(f, check_id(home.slug));
             }}},
           {"id"});
  return home;
}

std::vector<uint16_t> read_ports(const YAML::Node& node, const std::string& field) {
  if (!node.IsSequence()) fail(field, std::string("expected a list, got ") + kind(node));
  if (node.size() == 0) fail(field, "empty list");
  if (node.size() > kMaxTunnelPorts) {
    fail(field, "more than " + std::to_string(kMaxTunnelPorts) + " ports");
  }
  std::vector<uint16_t> ports;
  for (size_t i = 0; i < node.size(); ++i) {
    std::string f = field + "[" + std::to_string(i) + "]";
    auto port = static_cast<uint16_t>(number_field(node[i], f, 1, 65535));
    for (auto p : ports) {
      if (p == port) fail(f, "port " + std::to_string(port) + " appears twice");
    }
    ports.push_back(port);
  }
  return ports;
}

ServiceConfig read_service(const YAML::Node& node, const std::string& field) {
  ServiceConfig service;
  read_map(
      node, field,
      {{"hostname",
        [&](const YAML::Node& n, const std::string& f) {
          service.hostname = string_field(n, f, 253);
          auto valid = validate_route_hostname(service.hostname);
          if (!valid.ok()) fail(f, valid.error().context());
        }},
       {"target",
        [&](const YAML::Node& n, const std::string& f) {
          std::string text = scalar(n, f);
          auto hp = parse_host_port(text);
          if (!hp) fail(f, "expected HOST:PORT, got " + quote(text));
          service.target_host = hp->host;
          service.target_port = hp->port;
        }},
       {"tunnel_ports", [&](const YAML::Node& n,
                            const std::string& f) { service.tunnel_ports = read_ports(n, f); }},
       {"connections",
        [&](const YAML::Node& n, const std::string& f) {
          service.connections = static_cast<int>(number_field(n, f, 1, kMaxConnections));
        }},
       {"proxy_protocol",
        [&](const YAML::Node& n, const std::string& f) {
          service.proxy_protocol = bool_field(n, f);
        }}},
      {"hostname", "target", "tunnel_ports"});
  if (static_cast<size_t>(service.connections) > service.tunnel_ports.size()) {
    fail(field + ".connections", std::to_string(service.connections) + " connections need as " +
                                     "many tunnel_ports, got " +
                                     std::to_string(service.tunnel_ports.size()));
  }
  return service;
}

std::vector<ServiceConfig> read_services(const YAML::Node& node, const std::string& field) {
  if (node.IsNull()) return {};
  if (!node.IsSequence()) fail(field, std::string("expected a list, got ") + kind(node));
  if (node.size() > kMaxServices) {
    fail(field, "more than " + std::to_string(kMaxServices) + " services");
  }
  std::vector<ServiceConfig> services;
  for (size_t i = 0; i < node.size(); ++i) {
    std::string f = field + "[" + std::to_string(i) + "]";
    ServiceConfig service = read_service(node[i], f);
    for (size_t j = 0; j < services.size(); ++j) {
      const ServiceConfig& other = services[j];
      if (other.hostname == service.hostname) fail(f + ".hostname", "appears twice");
      // One listener per port on the VPS: a second service on it could never bind.
      for (size_t k = 0; k < service.tunnel_ports.size(); ++k) {
        for (uint16_t port : other.tunnel_ports) {
          if (port != service.tunnel_ports[k]) continue;
          fail(f + ".tunnel_ports[" + std::to_string(k) + "]",
               "port " + std::to_string(port) + " is also services[" + std::to_string(j) + "]'s");
        }
      }
    }
    services.push_back(std::move(service));
  }
  return services;
}

// Sees only where each document starts: enough to count them.
class DocumentCounter : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  YAML::Mark start = YAML::Mark::null_mark();
};

// 0, 1 or 2 (= more than one). yaml-cpp 0.7's LoadAll() never returns on some malformed input
// (",a: b"): its parser keeps producing empty documents at the same position. A document that
// starts where the previous one started is reported as the syntax error it is.
Result<size_t> count_documents(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentCounter counter;
  size_t count = 0;
  std::optional<int> previous;
  while (count < 2 && parser.HandleNextDocument(counter)) {
    if (previous && counter.start.pos == *previous) {
      return Error(std::error_code(), ":" + std::to_string(counter.start.line + 1) + ":" +
                                          std::to_string(counter.start.column + 1) +
                                          ": not YAML that can be read");
    }
    previous = counter.start.pos;
    ++count;
  }
  return count;
}

AgentConfig read_config(const YAML::Node& root) {
  AgentConfig config;
  if (!root.IsMap()) fail("(top level)", std::string("expected a mapping, got ") + kind(root));
  read_map(
      root, "",
      {{"server",
        [&](const YAML::Node& n, const std::string& f) { config.server = read_server(n, f); }},
       {"ssh", [&](const YAML::Node& n, const std::string& f) { config.ssh = read_ssh(n, f); }},
       {"home", [&](const YAML::Node& n, const std::string& f) { config.home = read_home(n, f); }},
       {"services",
        [&](const YAML::Node& n, const std::string& f) { config.services = read_services(n, f); }}},
      {});
  return config;
}

}  // namespace

Result<AgentConfig> parse_agent_config(std::string_view text, std::string_view source) {
  std::string where(source);
  if (text.size() > kMaxConfigBytes) {
    return Error(std::error_code(),
                 where + ": larger than " + std::to_string(kMaxConfigBytes) + " bytes");
  }
  if (text.find('\0') != std::string_view::npos) {
    return Error(std::error_code(), where + ": contains a NUL byte");
  }
  // YAML is Unicode text; yaml-cpp would pass other bytes through into strings that its own
  // emitter then cannot write back.
  if (size_t bad = find_invalid_utf8(text); bad != std::string_view::npos) {
    return Error(std::error_code(),
                 where + ": not UTF-8 text (byte " + std::to_string(bad + 1) + ")");
  }
  try {
    std::string copy(text);
    auto documents = count_documents(copy);
    if (!documents.ok()) return Error(std::error_code(), where + documents.error().context());
    if (*documents == 0) return Error(std::error_code(), where + ": the file is empty");
    if (*documents > 1) return Error(std::error_code(), where + ": more than one document");
    return read_config(YAML::Load(copy));
  } catch (const FieldError& e) {
    return Error(std::error_code(), where + ": " + e.field + ": " + e.problem);
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) return Error(std::error_code(), where + ": " + e.msg);
    return Error(std::error_code(), where + ":" + std::to_string(e.mark.line + 1) + ":" +
                                        std::to_string(e.mark.column + 1) + ": " + e.msg);
  } catch (const std::exception& e) {
    return Error(std::error_code(), where + ": " + e.what());
  }
}

}  // namespace cloudlink::home
