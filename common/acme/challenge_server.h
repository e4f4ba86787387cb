// Answers HTTP-01 challenges: GET /.well-known/acme-challenge/TOKEN → the key authorization,
// for the tokens published now; anything else gets 404, or, when the server was started with a
// redirect host, 308 to https://that-host/same-target (what the dataplane answers on :80 for a
// name without an HTTP target: a responder that serves a name for good should not hide it). Plain
// HTTP on a local address: the agent points a temporary mapping's tunnel at it, so the CA reaches
// it through dataplane :80 → sshd → agent. Runs its own thread; stops when destroyed.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/acme/acme_client.h"
#include "common/result.h"

namespace httplib {
class Server;
}

namespace cloudlink::acme {

class HttpChallengeServer final : public ChallengeResponder {
 public:
  // Binds host:port (0: any free port) and starts serving.
  static Result<std::unique_ptr<HttpChallengeServer>> start(const std::string& host, uint16_t port,
                                                            std::string redirect_host = {});
  ~HttpChallengeServer() override;

  uint16_t port() const { return port_; }
  Result<void> publish(const std::string& token, const std::string& key_authorization) override;
  void withdraw(const std::string& token) override;
  size_t published() const;

 private:
  HttpChallengeServer();

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  uint16_t port_ = 0;
  mutable std::mutex mutex_;
  std::map<std::string, std::string, std::less<>> tokens_;
};

}  // namespace cloudlink::acme
