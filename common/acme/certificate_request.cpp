#include "common/acme/certificate_request.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/acme/openssl_ptr.h"

namespace cloudlink::acme {
namespace {

using ExtensionsPtr =
    std::unique_ptr<STACK_OF(X509_EXTENSION), void (*)(STACK_OF(X509_EXTENSION)*)>;

void free_extensions(STACK_OF(X509_EXTENSION) * s) {
  sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
}

Error failure(const std::string& what) {
  return Error(std::error_code(), what + ": " + openssl_error_text());
}

}  // namespace

Result<CertificateRequest> make_certificate_request(const std::vector<std::string>& hostnames) {
  if (hostnames.empty()) return invalid("a certificate request needs a hostname");
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return failure("generating the certificate key");
  X509ReqPtr request(X509_REQ_new());
  if (!request || X509_REQ_set_version(request.get(), 0) != 1 ||
      X509_REQ_set_pubkey(request.get(), key.get()) != 1) {
    return failure("building the certificate request");
  }
  X509_NAME* subject = X509_REQ_get_subject_name(request.get());
  const std::string& cn = hostnames.front();
  if (cn.size() <= 64 && X509_NAME_add_entry_by_txt(
                             subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0) != 1) {
    return failure("setting the request's subject");
  }
  std::string san;
  for (const auto& name : hostnames) san += (san.empty() ? "DNS:" : ",DNS:") + name;
  ExtensionsPtr extensions(sk_X509_EXTENSION_new_null(), free_extensions);
  X509_EXTENSION* alt = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str());
  if (alt == nullptr || !extensions || sk_X509_EXTENSION_push(extensions.get(), alt) == 0) {
    X509_EXTENSION_free(alt);
    return failure("adding subjectAltName " + san);
  }
  if (X509_REQ_add_extensions(request.get(), extensions.get()) != 1 ||
      X509_REQ_sign(request.get(), key.get(), EVP_sha256()) == 0) {
    return failure("signing the certificate request");
  }
  CertificateRequest out;
  const int der_length = i2d_X509_REQ(request.get(), nullptr);
  if (der_length <= 0) return failure("encoding the certificate request");
  out.csr_der.resize(static_cast<size_t>(der_length));
  auto* p = reinterpret_cast<unsigned char*>(out.csr_der.data());
  i2d_X509_REQ(request.get(), &p);
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return failure("writing the certificate key");
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  out.key_pem.assign(data, static_cast<size_t>(length));
  return out;
}

}  // namespace cloudlink::acme
