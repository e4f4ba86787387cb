// A TLS server's certificate (control's API listener, cloudlink-home's --terminate-tls): an
// OpenSSL server context loaded from a PEM chain and key,
// and reloaded when either file changes, so a renewed certificate (ACME, or an operator's
// copy) is served to new connections without a restart while open ones keep theirs. A file
// that fails to load keeps the context that works (logged once per change).
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "common/result.h"

namespace cloudlink::tls {

using SslCtxPtr = std::shared_ptr<SSL_CTX>;

// TLS 1.2 and 1.3 only; the chain file's certificates in order, and the key must match.
Result<SslCtxPtr> load_server_context(const std::string& cert_file, const std::string& key_file);

class TlsContext {
 public:
  // Fails when the files do not load now: a bad certificate is a start-up error.
  static Result<std::unique_ptr<TlsContext>> open(std::string cert_file, std::string key_file);

  // The context for a new connection: reloaded first when a file's modification time or size
  // changed since the last look (looked at most once per check_interval).
  SslCtxPtr current();

  std::chrono::milliseconds check_interval{1000};

 private:
  TlsContext(std::string cert_file, std::string key_file, SslCtxPtr context, std::string stamp);

  std::string cert_file_;
  std::string key_file_;
  std::mutex mutex_;
  SslCtxPtr context_;
  std::string stamp_;  // the files' mtimes and sizes when context_ was loaded (or last failed)
  std::chrono::steady_clock::time_point last_check_;
};

}  // namespace cloudlink::tls
