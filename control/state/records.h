// The versioned encoding of the state records (JSON objects with "v": 1), and the key layouts
// of the state environment's databases. Internal to the store.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "control/state/state_store.h"

namespace cloudlink::state {

inline constexpr int kRecordVersion = 1;

// A user record also holds the password hash, which never leaves the store.
struct UserRecord {
  User user;
  std::string password_hash;
};

struct TokenRecord {
  std::string username;
  int64_t created_at = 0;
  int64_t expires_at = 0;
};

// A port block is held by its home, or quarantined after its home was deleted: then it stays
// allocated (no other home gets it) until nothing listens on its ports any more.
struct PortBlockRecord {
  std::string home_id;
  uint16_t count = 0;
  int64_t quarantined_at = 0;  // 0: held by home_id; else when home_id was deleted
  std::string key;             // the deleted home's key (base64), while quarantined
  // While quarantined: the deleted home's owner, whose port-block quota the block still counts
  // against (else deleting and re-creating homes would take the whole range out for a while).
  std::string owner;
};

std::string encode(const UserRecord& r);
std::string encode(const TokenRecord& r);
std::string encode(const Home& r);
std::string encode(const Mapping& r);
std::string encode(const AuditRecord& r);
std::string encode(const PortBlockRecord& r);
std::string encode(const SystemRoute& r);

Result<UserRecord> decode_user(std::string_view key, std::string_view bytes);
Result<TokenRecord> decode_token(std::string_view bytes);
Result<Home> decode_home(std::string_view key, std::string_view bytes);
Result<Mapping> decode_mapping(std::string_view key, std::string_view bytes);
Result<AuditRecord> decode_audit(std::string_view key, std::string_view bytes);
Result<PortBlockRecord> decode_port_block(std::string_view bytes);
Result<SystemRoute> decode_system_route(std::string_view key, std::string_view bytes);

// bytes as printable UTF-8 text: well-formed UTF-8 characters from U+0020 on are kept, every
// other byte (invalid UTF-8, control characters, and the backslash itself, so the form is
// unambiguous) becomes backslash, 'x', two hex digits; cut to at most max_bytes, ending in
// "..." when cut. Never fails.
inline constexpr size_t kMaxAuditField = 1024;
std::string printable_text(std::string_view bytes, size_t max_bytes = kMaxAuditField);

// Big-endian keys, so LMDB's byte order is numeric order.
std::string be64_key(uint64_t value);
uint64_t from_be64_key(std::string_view key);
std::string be16_key(uint16_t value);
uint16_t from_be16_key(std::string_view key);

}  // namespace cloudlink::state
