#include "control/acme/challenge_site.h"

#include "common/log.h"

namespace cloudlink::control::acme {

namespace {

constexpr std::string_view kPrefix = "/.well-known/acme-challenge/";
constexpr std::string_view kChallengeRoute = "/.well-known/acme-challenge/{token}";

// What a challenge responder needs of the loop: small requests, few at once.
http::LoopOptions responder_limits(std::vector<Cidr> trusted) {
  http::LoopOptions options;
  options.max_head_bytes = 8 * 1024;
  options.max_body_bytes = 1024;
  options.threads = 1;
  options.max_queued_requests = 64;
  // Within the descriptors serve keeps aside for everything but the API's connections.
  options.max_connections = 64;
  options.max_connections_per_source = 16;
  options.trusted_proxies = std::move(trusted);
  return options;
}

std::string route_label_of(std::string_view path) {
  return std::string(path.substr(0, kPrefix.size()) == kPrefix ? kChallengeRoute : "unmatched");
}

}  // namespace

Result<std::unique_ptr<ChallengeSite>> ChallengeSite::start(const std::string& host, uint16_t port,
                                                            std::string hostname,
                                                            std::vector<Cidr> trusted) {
  std::unique_ptr<ChallengeSite> site(new ChallengeSite(std::move(hostname)));
  const http::Site& served = *site;
  site->loop_ = std::make_unique<http::HttpLoop>(responder_limits(std::move(trusted)), served,
                                                 nullptr, nullptr);
  auto bound = site->loop_->bind(host, port);
  if (!bound) {
    return Error(bound.error().code(), "challenge responder: " + bound.error().context());
  }
  site->port_ = bound.value();
  http::HttpLoop* loop = site->loop_.get();
  site->thread_ = std::thread([loop] {
    if (auto served = loop->run(); !served) {
      log_error("acme: challenge responder stopped: %s", served.error().message().c_str());
    }
  });
  return site;
}

ChallengeSite::~ChallengeSite() {
  if (loop_) loop_->stop();
  if (thread_.joinable()) thread_.join();
}

Result<void> ChallengeSite::publish(const std::string& token,
                                    const std::string& key_authorization) {
  std::lock_guard lock(mutex_);
  tokens_[token] = key_authorization;
  return ok();
}

void ChallengeSite::withdraw(const std::string& token) {
  std::lock_guard lock(mutex_);
  tokens_.erase(token);
}

http::Response ChallengeSite::handle(const http::RawRequest& request,
                                     std::string* route_label) const {
  *route_label = route_label_of(request.path);
  if (request.method == "GET" || request.method == "HEAD") {
    if (std::string_view(request.path).substr(0, kPrefix.size()) == kPrefix) {
      std::lock_guard lock(mutex_);
      auto it = tokens_.find(std::string_view(request.path).substr(kPrefix.size()));
      if (it != tokens_.end()) {
        return http::Response::raw(200, "application/octet-stream", it->second);
      }
    }
  }
  // The target as sent: '/' then visible ASCII (the head parser checked), so it can go into
  // a Location header as it is.
  if (!request.target.empty() && request.target.front() == '/' && request.target.size() <= 2048) {
    http::Response moved = http::Response::raw(308, "text/plain", "use https\n");
    moved.headers.emplace_back("Location", "https://" + hostname_ + request.target);
    return moved;
  }
  return http::Response::raw(404, "text/plain", "no such challenge\n");
}

std::string ChallengeSite::route_label(std::string_view, std::string_view path) const {
  return route_label_of(path);
}

}  // namespace cloudlink::control::acme
