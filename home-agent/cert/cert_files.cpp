#include "home-agent/cert/cert_files.h"

#include <sys/stat.h>

#include <cerrno>

#include "common/acme/secret_file.h"

namespace cloudlink::home {
namespace {

Result<void> make_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return errno_error(dir);
  return ok();
}

}  // namespace

CertificatePaths certificate_paths(const std::string& config_path, const AcmeConfig& acme,
                                   const std::string& hostname) {
  CertificatePaths paths;
  paths.dir = resolve_key_path(config_path, acme.certificates) + "/" + hostname;
  paths.chain = paths.dir + "/fullchain.pem";
  paths.key = paths.dir + "/key.pem";
  return paths;
}

std::string account_key_path(const std::string& config_path) {
  return resolve_key_path(config_path, "acme-account.pem");
}

std::string pending_dir(const std::string& config_path) {
  return resolve_key_path(config_path, "cert-pending");
}

std::optional<acme::CertificateInfo> installed_certificate(const CertificatePaths& paths) {
  auto chain = acme::read_small_file(paths.chain);
  auto key = acme::read_small_file(paths.key);
  if (!chain || !key || !acme::check_key_matches(*chain, *key)) return std::nullopt;
  auto info = acme::read_certificate_info(*chain);
  if (!info) return std::nullopt;
  return std::move(info).value();
}

Result<acme::CertificateInfo> install_certificate(const CertificatePaths& paths,
                                                  const std::string& hostname,
                                                  const acme::IssuedCertificate& issued) {
  auto info = acme::read_certificate_info(issued.chain_pem);
  if (!info) return info.error();
  if (!info->covers(hostname)) {
    return Error(std::error_code(), "the CA's certificate does not name " + hostname);
  }
  if (auto matches = acme::check_key_matches(issued.chain_pem, issued.key_pem); !matches) {
    return matches.error();
  }
  const std::string parent = paths.dir.substr(0, paths.dir.rfind('/'));
  for (const std::string& dir : {parent, paths.dir}) {
    if (auto made = make_dir(dir); !made) return made.error();
  }
  // Key first: a reader that loads between the two renames sees a pair that does not match
  // and keeps the one it has; the chain's rename right after completes the new pair.
  if (auto w = acme::write_secret_file(paths.key, issued.key_pem); !w) return w.error();
  if (auto w = acme::write_secret_file(paths.chain, issued.chain_pem, 0644); !w) {
    return w.error();
  }
  return info;
}

}  // namespace cloudlink::home
