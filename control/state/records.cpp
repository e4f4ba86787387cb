#include "control/state/records.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace cloudlink::state {
namespace {

using nlohmann::json;

Result<json> parse_versioned(std::string_view bytes, const char* what) {
  json j = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Error(EIO, std::string("state: ") + what + " record is not JSON");
  auto v = j.find("v");
  if (v == j.end() || !v->is_number_integer() || v->get<int>() != kRecordVersion) {
    return Error(EIO, std::string("state: ") + what + " record has an unsupported version");
  }
  return j;
}

// Decoding a stored record: a missing or mistyped field is corruption (EIO), never a throw.
template <typename F>
auto guarded(const char* what, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const json::exception& e) {
    return Error(EIO, std::string("state: ") + what + " record: " + e.what());
  }
}

// Records are JSON, and nlohmann::json throws on invalid UTF-8 when it serialises: no record
// may fail to encode because of the bytes it carries, so invalid sequences become U+FFFD.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

std::string printable_text(std::string_view bytes, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(bytes.size(), max_bytes));
  size_t i = 0;
  while (i < bytes.size()) {
    if (out.size() + 4 > max_bytes) {
      out += "...";
      break;
    }
    auto c = static_cast<unsigned char>(bytes[i]);
    // The length of a well-formed UTF-8 sequence starting here (RFC 3629 table), 0 if none.
    size_t length = 0;
    if (c >= 0x20 && c < 0x7f) {
      length = 1;
    } else if (c >= 0xc2 && c <= 0xf4) {
      size_t need = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
      unsigned char lo = 0x80;
      unsigned char hi = 0xbf;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;  // no UTF-16 surrogates
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;  // nothing past U+10FFFF
      if (i + need <= bytes.size()) {
        auto second = static_cast<unsigned char>(bytes[i + 1]);
        bool good = second >= lo && second <= hi;
        for (size_t k = 2; good && k < need; ++k) {
          auto next = static_cast<unsigned char>(bytes[i + k]);
          good = next >= 0x80 && next <= 0xbf;
        }
        if (good) length = need;
      }
    }
    if (length > 0 && c != '\\') {
      out.append(bytes.substr(i, length));
      i += length;
      continue;
    }
    static constexpr char kHex[] = "0123456789abcdef";
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
    ++i;
  }
  return out;
}

// Expiry fields are written only when set, so records of a state made before expiry existed
// read the same.
static void put_expiry(json& j, int64_t expires_at, bool expired) {
  if (expires_at != 0) j["expires_at"] = expires_at;
  if (expired) j["expired"] = true;
}

std::string encode(const UserRecord& r) {
  json j{{"v", kRecordVersion},
         {"hash", r.password_hash},
         {"role", role_name(r.user.role)},
         {"active", r.user.active},
         {"created_at", r.user.created_at}};
  put_expiry(j, r.user.expires_at, r.user.expired);
  return dump(j);
}

std::string encode(const TokenRecord& r) {
  return dump(json{{"v", kRecordVersion},
                   {"user", r.username},
                   {"created_at", r.created_at},
                   {"expires_at", r.expires_at}});
}

std::string encode(const Home& r) {
  json j{{"v", kRecordVersion},
         {"slug", r.slug},
         {"name", r.name},
         {"owner", r.owner},
         {"key_type", r.key.type},
         {"key", r.key.base64},
         {"key_bits", r.key.bits},
         {"port_first", r.port_first},
         {"port_count", r.port_count},
         {"created_at", r.created_at}};
  put_expiry(j, r.expires_at, r.expired);
  return dump(j);
}

std::string encode(const Mapping& r) {
  json j{{"v", kRecordVersion},        {"home", r.home_id},
         {"tls_ports", r.tls_ports},   {"proxy_protocol", proxy_protocol_name(r.proxy_protocol)},
         {"created_at", r.created_at}, {"updated_at", r.updated_at}};
  if (r.http_port) j["http_port"] = *r.http_port;
  return dump(j);
}

std::string encode(const AuditRecord& r) {
  // What an audit record quotes comes from requests (a path segment, a name): stored as
  // printable text of bounded length, whatever its bytes.
  return dump(json{{"v", kRecordVersion},
                   {"at", r.at},
                   {"actor", printable_text(r.actor)},
                   {"source", printable_text(r.source)},
                   {"action", printable_text(r.action)},
                   {"target", printable_text(r.target)},
                   {"detail", printable_text(r.detail)}});
}

std::string encode(const PortBlockRecord& r) {
  json j{{"v", kRecordVersion}, {"home", r.home_id}, {"count", r.count}};
  if (r.quarantined_at != 0) {
    j["quarantined_at"] = r.quarantined_at;
    j["key"] = r.key;
    if (!r.owner.empty()) j["owner"] = r.owner;
  }
  return dump(j);
}

std::string encode(const SystemRoute& r) {
  json j{{"v", kRecordVersion}, {"owner", r.owner}, {"tls_target", r.tls_target.to_string()}};
  if (!r.http_target.empty()) j["http_target"] = r.http_target.to_string();
  if (r.proxy_v2) j["proxy_protocol"] = "v2";
  return dump(j);
}

Result<UserRecord> decode_user(std::string_view key, std::string_view bytes) {
  auto j = parse_versioned(bytes, "user");
  if (!j) return j.error();
  return guarded("user", [&]() -> Result<UserRecord> {
    UserRecord r;
    r.user.username = std::string(key);
    r.password_hash = j->at("hash").get<std::string>();
    r.user.role = j->at("role").get<std::string>() == "admin" ? Role::kAdmin : Role::kUser;
    r.user.active = j->at("active").get<bool>();
    r.user.created_at = j->at("created_at").get<int64_t>();
    r.user.expires_at = j->value("expires_at", int64_t{0});
    r.user.expired = j->value("expired", false);
    return r;
  });
}

Result<TokenRecord> decode_token(std::string_view bytes) {
  auto j = parse_versioned(bytes, "token");
  if (!j) return j.error();
  return guarded("token", [&]() -> Result<TokenRecord> {
    return TokenRecord{j->at("user").get<std::string>(), j->at("created_at").get<int64_t>(),
                       j->at("expires_at").get<int64_t>()};
  });
}

Result<Home> decode_home(std::string_view key, std::string_view bytes) {
  auto j = parse_versioned(bytes, "home");
  if (!j) return j.error();
  return guarded("home", [&]() -> Result<Home> {
    Home h;
    h.id = std::string(key);
    h.slug = j->at("slug").get<std::string>();
    h.name = j->at("name").get<std::string>();
    h.owner = j->at("owner").get<std::string>();
    h.key.type = j->at("key_type").get<std::string>();
    h.key.base64 = j->at("key").get<std::string>();
    h.key.bits = j->at("key_bits").get<unsigned>();
    h.port_first = j->at("port_first").get<uint16_t>();
    h.port_count = j->at("port_count").get<uint16_t>();
    h.created_at = j->at("created_at").get<int64_t>();
    h.expires_at = j->value("expires_at", int64_t{0});
    h.expired = j->value("expired", false);
    return h;
  });
}

Result<Mapping> decode_mapping(std::string_view key, std::string_view bytes) {
  auto j = parse_versioned(bytes, "mapping");
  if (!j) return j.error();
  return guarded("mapping", [&]() -> Result<Mapping> {
    Mapping m;
    m.hostname = std::string(key);
    m.home_id = j->at("home").get<std::string>();
    m.tls_ports = j->at("tls_ports").get<std::vector<uint16_t>>();
    if (j->contains("http_port")) m.http_port = j->at("http_port").get<uint16_t>();
    m.proxy_protocol = j->at("proxy_protocol").get<std::string>() == "v2" ? ProxyProtocol::kV2
                                                                          : ProxyProtocol::kNone;
    m.created_at = j->at("created_at").get<int64_t>();
    m.updated_at = j->at("updated_at").get<int64_t>();
    return m;
  });
}

Result<AuditRecord> decode_audit(std::string_view key, std::string_view bytes) {
  auto j = parse_versioned(bytes, "audit");
  if (!j) return j.error();
  return guarded("audit", [&]() -> Result<AuditRecord> {
    AuditRecord r;
    r.seq = from_be64_key(key);
    r.at = j->at("at").get<int64_t>();
    r.actor = j->at("actor").get<std::string>();
    r.source = j->at("source").get<std::string>();
    r.action = j->at("action").get<std::string>();
    r.target = j->at("target").get<std::string>();
    r.detail = j->at("detail").get<std::string>();
    return r;
  });
}

Result<PortBlockRecord> decode_port_block(std::string_view bytes) {
  auto j = parse_versioned(bytes, "port block");
  if (!j) return j.error();
  return guarded("port block", [&]() -> Result<PortBlockRecord> {
    PortBlockRecord r;
    r.home_id = j->at("home").get<std::string>();
    r.count = j->at("count").get<uint16_t>();
    r.quarantined_at = j->value("quarantined_at", int64_t{0});
    r.key = j->value("key", std::string());
    r.owner = j->value("owner", std::string());
    return r;
  });
}

std::string be64_key(uint64_t value) {
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i, value >>= 8) key[i] = static_cast<char>(value & 0xff);
  return key;
}

uint64_t from_be64_key(std::string_view key) {
  uint64_t value = 0;
  for (char c : key) value = (value << 8) | static_cast<uint8_t>(c);
  return value;
}

std::string be16_key(uint16_t value) {
  return {static_cast<char>(value >> 8), static_cast<char>(value & 0xff)};
}

uint16_t from_be16_key(std::string_view key) {
  return key.size() == 2 ? static_cast<uint16_t>((static_cast<uint8_t>(key[0]) << 8) |
                                                 static_cast<uint8_t>(key[1]))
                         : 0;
}

Result<SystemRoute> decode_system_route(std::string_view key, std::string_view bytes) {
  auto j = parse_versioned(bytes, "system route");
  if (!j) return j.error();
  return guarded("system route", [&]() -> Result<SystemRoute> {
    SystemRoute r;
    r.hostname = std::string(key);
    r.owner = j->at("owner").get<std::string>();
    auto tls = SocketAddress::parse(j->at("tls_target").get<std::string>());
    if (!tls) return Error(EIO, "state: system route " + r.hostname + ": bad tls_target");
    r.tls_target = tls.value();
    if (j->contains("http_target")) {
      auto http = SocketAddress::parse(j->at("http_target").get<std::string>());
      if (!http) return Error(EIO, "state: system route " + r.hostname + ": bad http_target");
      r.http_target = http.value();
    }
    // Absent in records written before the flag existed: no PROXY header.
    r.proxy_v2 = j->value("proxy_protocol", std::string()) == "v2";
    return r;
  });
}

}  // namespace cloudlink::state
