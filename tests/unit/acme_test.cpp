// common/acme's codecs and crypto: base64url vectors and hostile input, the account key's
// JWK and thumbprint, ES256 signatures checked by OpenSSL, the JWS shape, the certificate
// request's names, and the atomic 0600 file writer.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "common/acme/account_key.h"
#include "common/acme/base64url.h"
#include "common/acme/certificate_request.h"
#include "common/acme/secret_file.h"
#include "temp_dir.h"

namespace cloudlink::acme {
namespace {

TEST(Base64Url, Rfc4648Vectors) {
  const std::pair<const char*, const char*> cases[] = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}, {"\xfb\xff", "-_8"}};
  for (const auto& [plain, encoded] : cases) {
    EXPECT_EQ(base64url(std::string_view(plain)), encoded);
    EXPECT_EQ(base64url_decode(encoded), plain);
  }
}

TEST(Base64Url, RefusesWhatIsNotBase64Url) {
  for (const char* bad : {"Zg==", "Zm9v+", "Zm9v/", "Z", "Zm9vY", "Zh", "Zm9vYh", "a b", "\xff"}) {
    EXPECT_FALSE(base64url_decode(bad).has_value()) << bad;
  }
}

TEST(Base64Url, RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t n = 0; n <= all.size(); n += 7) {
    EXPECT_EQ(base64url_decode(base64url(std::string_view(all).substr(0, n))), all.substr(0, n));
  }
}

// OpenSSL's verdict on an ES256 signature (r || s) over data.
bool verifies(const AccountKey& key, std::string_view data, std::string_view signature) {
  if (signature.size() != 64) return false;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  auto* bytes = reinterpret_cast<const unsigned char*>(signature.data());
  ECDSA_SIG_set0(sig, BN_bin2bn(bytes, 32, nullptr), BN_bin2bn(bytes + 32, 32, nullptr));
  unsigned char* der = nullptr;
  const int der_length = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const bool ok =
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.pkey()) == 1 &&
      EVP_DigestVerify(ctx.get(), der, static_cast<size_t>(der_length),
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  OPENSSL_free(der);
  return ok;
}

TEST(AccountKey, JwkThumbprintAndPemRoundTrip) {
  auto key = AccountKey::generate();
  ASSERT_TRUE(key.ok()) << key.error().message();
  const auto& jwk = key->jwk();
  EXPECT_EQ(jwk["kty"], "EC");
  EXPECT_EQ(jwk["crv"], "P-256");
  EXPECT_EQ(jwk["x"].get<std::string>().size(), 43u);  // 32 bytes, unpadded
  EXPECT_EQ(jwk["y"].get<std::string>().size(), 43u);
  EXPECT_EQ(key->thumbprint().size(), 43u);
  auto again = AccountKey::from_pem(key->to_pem());
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(again->thumbprint(), key->thumbprint());
  EXPECT_NE(AccountKey::generate()->thumbprint(), key->thumbprint());
}

TEST(AccountKey, RefusesOtherKeysAndGarbage) {
  EvpPkeyPtr rsa(EVP_RSA_gen(2048));
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), rsa.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  EXPECT_FALSE(AccountKey::from_pem(std::string_view(data, static_cast<size_t>(length))).ok());
  EvpPkeyPtr p384(EVP_EC_gen("P-384"));
  BioPtr bio384(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio384.get(), p384.get(), nullptr, nullptr, 0, nullptr, nullptr);
  const long length384 = BIO_get_mem_data(bio384.get(), &data);
  EXPECT_FALSE(AccountKey::from_pem(std::string_view(data, static_cast<size_t>(length384))).ok());
  EXPECT_FALSE(AccountKey::from_pem("").ok());
  EXPECT_FALSE(
      AccountKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").ok());
}

TEST(AccountKey, Es256SignaturesVerify) {
  auto key = AccountKey::generate();
  ASSERT_TRUE(key.ok());
  auto signature = key->sign_es256("payload");
  ASSERT_TRUE(signature.ok());
  EXPECT_TRUE(verifies(*key, "payload", *signature));
  EXPECT_FALSE(verifies(*key, "payloaD", *signature));
}

TEST(AccountKey, JwsCarriesJwkOrKidAndVerifies) {
  auto key = AccountKey::generate();
  ASSERT_TRUE(key.ok());
  for (std::string kid : {std::string(), std::string("https://ca.test/acct/1")}) {
    auto jws = key->sign(R"({"a":1})", "nonce-1", "https://ca.test/new", kid);
    ASSERT_TRUE(jws.ok());
    auto header = nlohmann::json::parse(*base64url_decode((*jws)["protected"].get<std::string>()));
    EXPECT_EQ(header["alg"], "ES256");
    EXPECT_EQ(header["nonce"], "nonce-1");
    EXPECT_EQ(header["url"], "https://ca.test/new");
    EXPECT_EQ(header.contains("jwk"), kid.empty());
    EXPECT_EQ(header.contains("kid"), !kid.empty());
    EXPECT_EQ(*base64url_decode((*jws)["payload"].get<std::string>()), R"({"a":1})");
    const std::string signing_input =
        (*jws)["protected"].get<std::string>() + "." + (*jws)["payload"].get<std::string>();
    EXPECT_TRUE(
        verifies(*key, signing_input, *base64url_decode((*jws)["signature"].get<std::string>())));
  }
  auto post_as_get = key->sign("", "n", "https://ca.test/order/1", "kid");
  ASSERT_TRUE(post_as_get.ok());
  EXPECT_EQ((*post_as_get)["payload"], "");
}

TEST(CertificateRequest, NamesEveryHostnameAndIsSigned) {
  auto request = make_certificate_request({"app.example.com", "www.example.com"});
  ASSERT_TRUE(request.ok()) << request.error().message();
  const auto* p = reinterpret_cast<const unsigned char*>(request->csr_der.data());
  X509ReqPtr csr(d2i_X509_REQ(nullptr, &p, static_cast<long>(request->csr_der.size())));
  ASSERT_TRUE(csr);
  EvpPkeyPtr pub(X509_REQ_get_pubkey(csr.get()));
  EXPECT_EQ(X509_REQ_verify(csr.get(), pub.get()), 1);
  STACK_OF(X509_EXTENSION)* extensions = X509_REQ_get_extensions(csr.get());
  ASSERT_NE(extensions, nullptr);
  auto* names = static_cast<GENERAL_NAMES*>(
      X509V3_get_d2i(extensions, NID_subject_alt_name, nullptr, nullptr));
  ASSERT_NE(names, nullptr);
  std::vector<std::string> dns;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type == GEN_DNS) {
      dns.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.dNSName)),
                       static_cast<size_t>(ASN1_STRING_length(name->d.dNSName)));
    }
  }
  GENERAL_NAMES_free(names);
  sk_X509_EXTENSION_pop_free(extensions, X509_EXTENSION_free);
  EXPECT_EQ(dns, (std::vector<std::string>{"app.example.com", "www.example.com"}));
  EXPECT_NE(request->key_pem.find("PRIVATE KEY"), std::string::npos);
  EXPECT_FALSE(make_certificate_request({}).ok());
}

TEST(SecretFile, WritesAtomicallyWith0600) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/key.pem";
  const mode_t old_umask = ::umask(0);
  ASSERT_TRUE(write_secret_file(path, "first").ok());
  ::umask(old_umask);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(write_secret_file(path, "second").ok());
  EXPECT_EQ(*read_small_file(path), "second");
  EXPECT_EQ(read_small_file(path, 3).error().value(), EFBIG);
  EXPECT_EQ(read_small_file(dir.path() + "/absent").error().value(), ENOENT);
  EXPECT_FALSE(write_secret_file(dir.path() + "/no/such/dir/key.pem", "x").ok());
}

TEST(AccountKey, LoadOrCreateKeepsTheKey) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/account.pem";
  auto created = AccountKey::load_or_create(path);
  ASSERT_TRUE(created.ok()) << created.error().message();
  auto loaded = AccountKey::load_or_create(path);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->thumbprint(), created->thumbprint());
  ASSERT_TRUE(write_secret_file(path, "not a key").ok());
  auto broken = AccountKey::load_or_create(path);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message().find(path), std::string::npos);
}

}  // namespace
}  // namespace cloudlink::acme
