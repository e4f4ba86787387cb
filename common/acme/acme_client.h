// An ACME (RFC 8555) client for one job: a certificate for a few hostnames through the HTTP-01
// challenge. Directory, nonces (retried once on badNonce), account (created or found by its
// key), order, authorizations, challenge, finalize with a fresh P-256 key, download of the
// full chain. Every wait is bounded: polls follow Retry-After within limits and give up after
// a deadline with the last status. Problems come back as errors quoting the server's problem
// document (type and detail).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/acme/account_key.h"
#include "common/result.h"

namespace cloudlink::acme {

struct AcmeOptions {
  std::string directory_url;
  std::string ca_bundle;  // PEM file the ACME server's certificate must chain to ("": system)
  std::string email;      // account contact, optional
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds poll_interval{1000};  // when the server gives no Retry-After
  std::chrono::milliseconds order_deadline{120000};
  // Asked between requests and every 100 ms of a wait: true stops the order with an error, so
  // a program shutting down waits for one request at most, not for the order's deadline.
  std::function<bool()> cancelled;
};

// Makes http://HOST/.well-known/acme-challenge/TOKEN answer key_authorization while the
// challenge is checked. withdraw() runs on every path out of issue(), success or not.
class ChallengeResponder {
 public:
  virtual ~ChallengeResponder() = default;
  virtual Result<void> publish(const std::string& token, const std::string& key_authorization) = 0;
  virtual void withdraw(const std::string& token) = 0;
};

struct IssuedCertificate {
  std::string key_pem;    // the certificate's private key
  std::string chain_pem;  // leaf first, then the intermediates
};

class AcmeClient {
 public:
  static Result<std::unique_ptr<AcmeClient>> connect(AcmeOptions options, AccountKey key);
  ~AcmeClient();

  // The account of this key: created (terms agreed) or found. Needed before issue().
  Result<void> register_account();
  const std::string& account_url() const { return account_url_; }

  Result<IssuedCertificate> issue(const std::vector<std::string>& hostnames,
                                  ChallengeResponder& responder);

 private:
  struct Http;
  struct Reply;
  AcmeClient(AcmeOptions options, AccountKey key);

  Result<std::string> fresh_nonce();
  // A signed POST (payload "" is POST-as-GET); retried once when the nonce was refused.
  Result<Reply> post(const std::string& url, const std::string& payload);
  Result<Reply> post_once(const std::string& url, const std::string& payload);
  // Sleeps for wait, in slices, unless options_.cancelled says stop (then an error).
  Result<void> pause(std::chrono::milliseconds wait);
  // POST-as-GET url until its "status" leaves pending/processing (or the deadline).
  Result<Reply> poll(const std::string& url, std::chrono::steady_clock::time_point deadline);
  Result<void> authorize(const std::string& authorization_url, ChallengeResponder& responder,
                         std::chrono::steady_clock::time_point deadline);

  AcmeOptions options_;
  AccountKey key_;
  std::unique_ptr<Http> http_;
  std::string new_nonce_url_;
  std::string new_account_url_;
  std::string new_order_url_;
  std::string account_url_;
  std::string nonce_;
};

}  // namespace cloudlink::acme
