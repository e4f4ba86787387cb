// The control plane's few cryptographic operations, all from libsodium: Argon2id password
// hashes, random tokens and ids, and the digest under which a token is stored.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace cloudlink::state {

// Argon2id cost. kInteractive is libsodium's interactive level (64 MiB, ~0.1 s); kMinimum is for
// tests only, where hundreds of hashes must not take minutes.
enum class PasswordCost { kInteractive, kModerate, kMinimum };

// Initialises libsodium once (thread-safe, idempotent); false when it cannot.
bool crypto_init();

// An encoded "$argon2id$v=19$m=...,t=...,p=...$salt$hash" string.
Result<std::string> hash_password(std::string_view password, PasswordCost cost);
// Constant-time check of password against an encoded hash; false for a malformed hash.
bool verify_password(const std::string& encoded_hash, std::string_view password);

// 32 random bytes (256 bits) as unpadded base64url: what a client holds.
std::string random_token();
// The hex BLAKE2b-256 digest of a token: what the store keeps. A leaked database does not
// yield usable tokens, and the token's 256 bits make a slow hash unnecessary.
std::string token_digest(std::string_view token);
// bytes random bytes as lower-case hex.
std::string random_hex(size_t bytes);

}  // namespace cloudlink::state
