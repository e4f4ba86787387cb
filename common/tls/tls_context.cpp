#include "common/tls/tls_context.h"

#include <openssl/err.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/tls/openssl_error.h"

namespace cloudlink::tls {
namespace {

// A configuration error: the message says it all (no errno text after it).
Error tls_error(std::string message) { return Error(std::error_code(), std::move(message)); }

std::string openssl_error() { return openssl_error_text("unknown OpenSSL error"); }

// "mtime.nsec:size" of both files; "" when either cannot be stat'ed.
std::string file_stamp(const std::string& cert_file, const std::string& key_file) {
  std::string out;
  for (const std::string* file : {&cert_file, &key_file}) {
    struct stat st {};
    if (::stat(file->c_str(), &st) != 0) return {};
    out += std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ":" +
           std::to_string(st.st_size) + ";";
  }
  return out;
}

}  // namespace

Result<SslCtxPtr> load_server_context(const std::string& cert_file, const std::string& key_file) {
  SslCtxPtr context(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (!context) return tls_error("TLS: SSL_CTX_new: " + openssl_error());
  SSL_CTX_set_min_proto_version(context.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(context.get(), SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_use_certificate_chain_file(context.get(), cert_file.c_str()) != 1) {
    return tls_error("--tls-cert " + cert_file + ": " + openssl_error());
  }
  if (SSL_CTX_use_PrivateKey_file(context.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return tls_error("--tls-key " + key_file + ": " + openssl_error());
  }
  if (SSL_CTX_check_private_key(context.get()) != 1) {
    return tls_error("--tls-key " + key_file + " does not match --tls-cert " + cert_file);
  }
  return context;
}

Result<std::unique_ptr<TlsContext>> TlsContext::open(std::string cert_file, std::string key_file) {
  std::string stamp = file_stamp(cert_file, key_file);
  auto context = load_server_context(cert_file, key_file);
  if (!context) return context.error();
  return std::unique_ptr<TlsContext>(
      new TlsContext(std::move(cert_file), std::move(key_file), std::move(context).value(), stamp));
}

TlsContext::TlsContext(std::string cert_file, std::string key_file, SslCtxPtr context,
                       std::string stamp)
    : cert_file_(std::move(cert_file)),
      key_file_(std::move(key_file)),
      context_(std::move(context)),
      stamp_(std::move(stamp)),
      last_check_(std::chrono::steady_clock::now()) {}

SslCtxPtr TlsContext::current() {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (now - last_check_ < check_interval) return context_;
  last_check_ = now;
  std::string stamp = file_stamp(cert_file_, key_file_);
  if (stamp.empty() || stamp == stamp_) return context_;
  // A writer replacing both files may be half done: a pair that does not load is tried
  // again at its next change, and the working context stays meanwhile.
  stamp_ = stamp;
  auto reloaded = load_server_context(cert_file_, key_file_);
  if (!reloaded) {
    log_warn("TLS certificate not reloaded, keeping the previous one: %s",
             reloaded.error().message().c_str());
    return context_;
  }
  context_ = std::move(reloaded).value();
  log_line("TLS certificate reloaded from %s", cert_file_.c_str());
  return context_;
}

}  // namespace cloudlink::tls
