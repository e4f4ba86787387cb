#include "common/acme/certificate_info.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "common/acme/openssl_ptr.h"

namespace cloudlink::acme {
namespace {

using GeneralNamesPtr =
    std::unique_ptr<GENERAL_NAMES, OpenSslDeleter<GENERAL_NAMES, GENERAL_NAMES_free>>;

Error failure(const std::string& what) {
  return Error(std::error_code(), what + ": " + openssl_error_text());
}

Result<SystemTime> to_time_point(const ASN1_TIME* time) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return failure("certificate time");
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

Result<std::string> pem_of(int (*write)(BIO*, void*), void* object, const char* what) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get(), object) != 1) return failure(what);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(length));
}

}  // namespace

bool CertificateInfo::covers(std::string_view hostname) const {
  for (const std::string& name : dns_names) {
    if (equal_ignoring_case(name, hostname)) return true;
  }
  return false;
}

Result<CertificateInfo> read_certificate_info(std::string_view chain_pem) {
  BioPtr bio(BIO_new_mem_buf(chain_pem.data(), static_cast<int>(chain_pem.size())));
  X509Ptr leaf(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!leaf) return failure("no certificate in the chain");
  CertificateInfo info;
  auto not_before = to_time_point(X509_get0_notBefore(leaf.get()));
  auto not_after = to_time_point(X509_get0_notAfter(leaf.get()));
  if (!not_before) return not_before.error();
  if (!not_after) return not_after.error();
  info.not_before = not_before.value();
  info.not_after = not_after.value();
  info.self_issued =
      X509_NAME_cmp(X509_get_issuer_name(leaf.get()), X509_get_subject_name(leaf.get())) == 0;
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(leaf.get(), NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_DNS) continue;
    const ASN1_IA5STRING* dns = name->d.dNSName;
    info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                static_cast<size_t>(ASN1_STRING_length(dns)));
  }
  return info;
}

Result<void> check_key_matches(std::string_view chain_pem, std::string_view key_pem) {
  BioPtr chain(BIO_new_mem_buf(chain_pem.data(), static_cast<int>(chain_pem.size())));
  X509Ptr leaf(chain ? PEM_read_bio_X509(chain.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!leaf) return failure("no certificate in the chain");
  BioPtr key_bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  EvpPkeyPtr key(key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr)
                         : nullptr);
  if (!key) return failure("no private key");
  if (X509_check_private_key(leaf.get(), key.get()) != 1) {
    return failure("the key does not belong to the certificate");
  }
  return ok();
}

Result<IssuedCertificate> make_self_signed_certificate(const std::string& hostname,
                                                       SystemTime not_before,
                                                       SystemTime not_after) {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  X509Ptr cert(X509_new());
  if (!key || !cert) return failure("generating a self-signed certificate");
  X509_NAME* name = X509_get_subject_name(cert.get());
  const auto from = std::chrono::system_clock::to_time_t(not_before);
  const auto to = std::chrono::system_clock::to_time_t(not_after);
  BignumPtr serial(BN_new());
  if (X509_set_version(cert.get(), 2) != 1 || !serial || BN_rand(serial.get(), 63, 0, 0) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr ||
      ASN1_TIME_set(X509_getm_notBefore(cert.get()), from) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), to) == nullptr ||
      X509_set_pubkey(cert.get(), key.get()) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(hostname.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(cert.get(), name) != 1) {
    return failure("building a self-signed certificate for " + hostname);
  }
  X509_EXTENSION* alt =
      X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, ("DNS:" + hostname).c_str());
  const bool added = alt != nullptr && X509_add_ext(cert.get(), alt, -1) == 1;
  X509_EXTENSION_free(alt);
  if (!added || X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return failure("signing a self-signed certificate for " + hostname);
  }
  auto key_pem = pem_of(
      [](BIO* bio, void* k) {
        return PEM_write_bio_PrivateKey(bio, static_cast<EVP_PKEY*>(k), nullptr, nullptr, 0,
                                        nullptr, nullptr);
      },
      key.get(), "writing the key");
  if (!key_pem) return key_pem.error();
  auto cert_pem =
      pem_of([](BIO* bio, void* c) { return PEM_write_bio_X509(bio, static_cast<X509*>(c)); },
             cert.get(), "writing the certificate");
  if (!cert_pem) return cert_pem.error();
  return IssuedCertificate{std::move(key_pem.value()), std::move(cert_pem.value())};
}

std::string utc_text(SystemTime t) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace cloudlink::acme
