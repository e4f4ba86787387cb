#include "common/acme/challenge_server.h"

#include <httplib.h>

namespace cloudlink::acme {

namespace {
constexpr std::string_view kPrefix = "/.well-known/acme-challenge/";

// An origin-form target that can go into a Location header as it is: '/' then visible ASCII.
bool plain_target(std::string_view target) {
  if (target.empty() || target.front() != '/' || target.size() > 2048) return false;
  for (char c : target) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}
}  // namespace

HttpChallengeServer::HttpChallengeServer() : server_(std::make_unique<httplib::Server>()) {}

HttpChallengeServer::~HttpChallengeServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

Result<std::unique_ptr<HttpChallengeServer>> HttpChallengeServer::start(const std::string& host,
                                                                        uint16_t port,
                                                                        std::string redirect_host) {
  std::unique_ptr<HttpChallengeServer> out(new HttpChallengeServer());
  HttpChallengeServer* self = out.get();
  out->server_->set_read_timeout(5, 0);
  out->server_->set_write_timeout(5, 0);
  out->server_->set_payload_max_length(1024);
  out->server_->Get(".*",
                    [self, redirect_host](const httplib::Request& req, httplib::Response& res) {
                      std::string_view path = req.path;
                      std::lock_guard lock(self->mutex_);
                      if (path.substr(0, kPrefix.size()) == kPrefix) {
                        auto it = self->tokens_.find(path.substr(kPrefix.size()));
                        if (it != self->tokens_.end()) {
                          res.set_content(it->second, "application/octet-stream");
                          return;
                        }
                      }
                      if (!redirect_host.empty() && plain_target(req.target)) {
                        res.status = 308;
                        res.set_header("Location", "https://" + redirect_host + req.target);
                        res.set_content("use https\n", "text/plain");
                        return;
                      }
                      res.status = 404;
                      res.set_content("no such challenge\n", "text/plain");
                    });
  const int bound = port == 0 ? out->server_->bind_to_any_port(host)
                              : (out->server_->bind_to_port(host, port) ? port : -1);
  if (bound <= 0) return errno_error("challenge server: bind " + host + ":" + std::to_string(port));
  out->port_ = static_cast<uint16_t>(bound);
  out->thread_ = std::thread([self] { self->server_->listen_after_bind(); });
  return out;
}

Result<void> HttpChallengeServer::publish(const std::string& token,
                                          const std::string& key_authorization) {
  std::lock_guard lock(mutex_);
  tokens_[token] = key_authorization;
  return ok();
}

void HttpChallengeServer::withdraw(const std::string& token) {
  std::lock_guard lock(mutex_);
  tokens_.erase(token);
}

size_t HttpChallengeServer::published() const {
  std::lock_guard lock(mutex_);
  return tokens_.size();
}

}  // namespace cloudlink::acme
