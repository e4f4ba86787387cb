#include "common/acme/account_key.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include <array>

#include "common/acme/base64url.h"
#include "common/acme/secret_file.h"

namespace cloudlink::acme {
namespace {

constexpr size_t kCoordinateBytes = 32;  // P-256

Error openssl_failure(const std::string& what) {
  return Error(std::error_code(), what + ": " + openssl_error_text());
}

// The big-endian, zero-padded bytes of a P-256 coordinate or signature half.
std::string fixed_width(const BIGNUM* n) {
  std::array<unsigned char, kCoordinateBytes> out{};
  BN_bn2binpad(n, out.data(), static_cast<int>(out.size()));
  return {reinterpret_cast<const char*>(out.data()), out.size()};
}

}  // namespace

std::string openssl_error_text() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

AccountKey::AccountKey(EvpPkeyPtr key) : key_(std::move(key)) {}

Result<AccountKey> AccountKey::generate() {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return openssl_failure("generating a P-256 key");
  AccountKey out(std::move(key));
  if (auto d = out.describe(); !d) return d.error();
  return out;
}

Result<AccountKey> AccountKey::from_pem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return openssl_failure("reading the account key");
  char group[32] = {};
  size_t group_length = 0;
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_EC ||
      EVP_PKEY_get_utf8_string_param(key.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                     &group_length) != 1 ||
      std::string_view(group, group_length) != "prime256v1") {
    return Error(std::error_code(), "the account key is not an ECDSA P-256 key");
  }
  AccountKey out(std::move(key));
  if (auto d = out.describe(); !d) return d.error();
  return out;
}

Result<AccountKey> AccountKey::load_or_create(const std::string& path) {
  auto existing = read_small_file(path);
  if (existing) {
    auto key = from_pem(*existing);
    if (!key) return Error(std::error_code(), path + ": " + key.error().message());
    return key;
  }
  if (existing.error().value() != ENOENT) return existing.error();
  auto key = generate();
  if (!key) return key;
  if (auto written = write_secret_file(path, key->to_pem()); !written) return written.error();
  return key;
}

std::string AccountKey::to_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return {data, static_cast<size_t>(length)};
}

Result<void> AccountKey::describe() {
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  if (EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
      EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1) {
    BN_free(x);
    return openssl_failure("reading the account key's public point");
  }
  BignumPtr x_owner(x);
  BignumPtr y_owner(y);
  const std::string x64 = base64url(fixed_width(x));
  const std::string y64 = base64url(fixed_width(y));
  jwk_ = {{"crv", "P-256"}, {"kty", "EC"}, {"x", x64}, {"y", y64}};
  // RFC 7638: the required members, lexicographic order, no whitespace.
  const std::string canonical =
      R"({"crv":"P-256","kty":"EC","x":")" + x64 + R"(","y":")" + y64 + R"("})";
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(canonical.data()), canonical.size(), digest);
  thumbprint_ = base64url(std::span<const uint8_t>(digest, sizeof digest));
  return ok();
}

Result<std::string> AccountKey::sign_es256(std::string_view data) const {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  size_t length = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return openssl_failure("signing");
  }
  std::string der(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &length,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return openssl_failure("signing");
  }
  // JWS wants r || s, fixed width, not the DER SEQUENCE OpenSSL writes.
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(length)));
  if (!sig) return openssl_failure("decoding the signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  return fixed_width(r) + fixed_width(s);
}

Result<nlohmann::json> AccountKey::sign(std::string_view payload, std::string_view nonce,
                                        std::string_view url, std::string_view kid) const {
  nlohmann::json header = {{"alg", "ES256"}, {"nonce", nonce}, {"url", url}};
  if (kid.empty()) {
    header["jwk"] = jwk_;
  } else {
    header["kid"] = kid;
  }
  const std::string protected64 = base64url(header.dump());
  const std::string payload64 = payload.empty() ? std::string() : base64url(payload);
  auto signature = sign_es256(protected64 + "." + payload64);
  if (!signature) return signature.error();
  return nlohmann::json{
      {"protected", protected64}, {"payload", payload64}, {"signature", base64url(*signature)}};
}

}  // namespace cloudlink::acme
