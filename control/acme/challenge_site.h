// Control's HTTP-01 responder (the HTTP target of its own system route): what
// common/acme/challenge_server.h does for the home agent, but served by control's connection
// loop (control/http/http_loop.h) on a thread of its own. So it has the API listener's bounds
// (16 KiB heads, a deadline per connection, per-source limits) and reads a PROXY header from
// --accept-proxy-from peers exactly as the API listener does: the system route's PROXY v2
// flag covers both of its targets, so both must read it.
//
// GET /.well-known/acme-challenge/TOKEN answers the key authorization of a published token;
// anything else gets 308 to https://HOSTNAME/same-target, as the dataplane answers on :80 for
// a name without an HTTP target.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/acme/acme_client.h"
#include "common/cidr.h"
#include "common/result.h"
#include "control/http/http_loop.h"
#include "control/http/site.h"

namespace cloudlink::control::acme {

class ChallengeSite final : public cloudlink::acme::ChallengeResponder, private http::Site {
 public:
  // Binds host:port (0: any free port) and starts serving. trusted: --accept-proxy-from.
  static Result<std::unique_ptr<ChallengeSite>> start(const std::string& host, uint16_t port,
                                                      std::string hostname,
                                                      std::vector<Cidr> trusted);
  ~ChallengeSite() override;
  ChallengeSite(const ChallengeSite&) = delete;
  ChallengeSite& operator=(const ChallengeSite&) = delete;

  uint16_t port() const { return port_; }
  Result<void> publish(const std::string& token, const std::string& key_authorization) override;
  void withdraw(const std::string& token) override;

 private:
  explicit ChallengeSite(std::string hostname) : hostname_(std::move(hostname)) {}

  http::Response handle(const http::RawRequest& request, std::string* route_label) const override;
  std::string route_label(std::string_view method, std::string_view path) const override;
  void answered(std::string_view, std::string_view, int, double) const override {}

  std::string hostname_;
  uint16_t port_ = 0;
  mutable std::mutex mutex_;
  std::map<std::string, std::string, std::less<>> tokens_;
  std::unique_ptr<http::HttpLoop> loop_;
  std::thread thread_;
};

}  // namespace cloudlink::control::acme
