#include "common/acme/acme_client.h"

#include <httplib.h>

#include <map>
#include <thread>

#include "common/acme/base64url.h"
#include "common/acme/certificate_request.h"

namespace cloudlink::acme {
namespace {

using Clock = std::chrono::steady_clock;
// Anything an ACME server sends us is small: objects and a certificate chain.
constexpr size_t kMaxResponseBytes = 1 << 20;
constexpr auto kMaxRetryAfter = std::chrono::seconds(10);

Error acme_error(std::string message) { return Error(std::error_code(), "ACME: " + message); }

// "https://host:port/path" → {"https://host:port", "/path"}.
Result<std::pair<std::string, std::string>> split_url(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos ||
      (url.compare(0, scheme, "https") != 0 && url.compare(0, scheme, "http") != 0)) {
    return acme_error("not an http(s) URL: " + url.substr(0, 200));
  }
  const size_t path = url.find('/', scheme + 3);
  if (path == std::string::npos) return std::make_pair(url, std::string("/"));
  return std::make_pair(url.substr(0, path), url.substr(path));
}

// A problem document (RFC 7807) as "type: detail".
std::string problem_summary(const nlohmann::json& problem) {
  if (!problem.is_object()) return "no problem document";
  std::string text = problem.value("type", std::string("(no type)"));
  if (problem.contains("detail") && problem["detail"].is_string()) {
    text += ": " + problem["detail"].get<std::string>();
  }
  return text;
}

std::string problem_text(const nlohmann::json& body, int status) {
  return "HTTP " + std::to_string(status) + " " + problem_summary(body);
}

std::string string_field(const nlohmann::json& object, const char* name) {
  if (!object.is_object() || !object.contains(name) || !object[name].is_string()) return {};
  return object[name].get<std::string>();
}

}  // namespace

struct AcmeClient::Reply {
  int status = 0;
  nlohmann::json body;  // null when the body is not JSON (the certificate)
  std::string raw;
  std::string location;
  std::chrono::milliseconds retry_after{0};
};

// One cpp-httplib client per origin (directory, and whatever URLs the server hands out).
struct AcmeClient::Http {
  explicit Http(const AcmeOptions& options) : options(options) {}

  httplib::Client& client_for(const std::string& origin) {
    auto it = clients.find(origin);
    if (it != clients.end()) return *it->second;
    auto client = std::make_unique<httplib::Client>(origin);
    const auto ms = options.request_timeout.count();
    client->set_connection_timeout(ms / 1000, (ms % 1000) * 1000);
    client->set_read_timeout(ms / 1000, (ms % 1000) * 1000);
    client->set_write_timeout(ms / 1000, (ms % 1000) * 1000);
    client->enable_server_certificate_verification(true);
    if (!options.ca_bundle.empty()) client->set_ca_cert_path(options.ca_bundle.c_str());
    client->set_keep_alive(true);
    return *clients.emplace(origin, std::move(client)).first->second;
  }

  const AcmeOptions& options;
  std::map<std::string, std::unique_ptr<httplib::Client>> clients;
};

AcmeClient::AcmeClient(AcmeOptions options, AccountKey key)
    : options_(std::move(options)), key_(std::move(key)), http_(std::make_unique<Http>(options_)) {}

AcmeClient::~AcmeClient() = default;

Result<std::unique_ptr<AcmeClient>> AcmeClient::connect(AcmeOptions options, AccountKey key) {
  std::unique_ptr<AcmeClient> client(new AcmeClient(std::move(options), std::move(key)));
  auto url = split_url(client->options_.directory_url);
  if (!url) return url.error();
  auto response = client->http_->client_for(url->first).Get(url->second);
  if (!response) {
    return acme_error("directory " + client->options_.directory_url + ": " +
                      httplib::to_string(response.error()));
  }
  if (response->status != 200) {
    return acme_error("directory " + client->options_.directory_url + ": HTTP " +
                      std::to_string(response->status));
  }
  auto directory = nlohmann::json::parse(response->body, nullptr, false);
  client->new_nonce_url_ = string_field(directory, "newNonce");
  client->new_account_url_ = string_field(directory, "newAccount");
  client->new_order_url_ = string_field(directory, "newOrder");
  if (client->new_nonce_url_.empty() || client->new_account_url_.empty() ||
      client->new_order_url_.empty()) {
    return acme_error("directory " + client->options_.directory_url +
                      " lacks newNonce, newAccount or newOrder");
  }
  return client;
}

Result<std::string> AcmeClient::fresh_nonce() {
  if (!nonce_.empty()) return std::exchange(nonce_, std::string());
  auto url = split_url(new_nonce_url_);
  if (!url) return url.error();
  auto response = http_->client_for(url->first).Head(url->second);
  if (!response) return acme_error("newNonce: " + httplib::to_string(response.error()));
  std::string nonce = response->get_header_value("Replay-Nonce");
  if (nonce.empty()) return acme_error("newNonce gave no Replay-Nonce");
  return nonce;
}

Result<void> AcmeClient::pause(std::chrono::milliseconds wait) {
  constexpr std::chrono::milliseconds kSlice{100};
  const auto until = Clock::now() + wait;
  for (;;) {
    if (options_.cancelled && options_.cancelled()) return acme_error("cancelled");
    const auto now = Clock::now();
    if (now >= until) return ok();
    std::this_thread::sleep_for(std::min<Clock::duration>(kSlice, until - now));
  }
}

Result<AcmeClient::Reply> AcmeClient::post_once(const std::string& url,
                                                const std::string& payload) {
  if (options_.cancelled && options_.cancelled()) return acme_error("cancelled");
  auto nonce = fresh_nonce();
  if (!nonce) return nonce.error();
  auto jws = key_.sign(payload, *nonce, url, account_url_);
  if (!jws) return jws.error();
  auto parts = split_url(url);
  if (!parts) return parts.error();
  auto response =
      http_->client_for(parts->first).Post(parts->second, jws->dump(), "application/jose+json");
  if (!response) return acme_error(url + ": " + httplib::to_string(response.error()));
  if (response->body.size() > kMaxResponseBytes) return acme_error(url + ": answer too large");
  Reply reply;
  reply.status = response->status;
  reply.raw = response->body;
  reply.body = nlohmann::json::parse(response->body, nullptr, false);
  if (reply.body.is_discarded()) reply.body = nullptr;
  reply.location = response->get_header_value("Location");
  nonce_ = response->get_header_value("Replay-Nonce");
  const std::string retry = response->get_header_value("Retry-After");
  if (!retry.empty() && retry.size() < 6 &&
      retry.find_first_not_of("0123456789") == std::string::npos) {
    reply.retry_after =
        std::min<std::chrono::milliseconds>(std::chrono::seconds(std::stoi(retry)), kMaxRetryAfter);
  }
  return reply;
}

Result<AcmeClient::Reply> AcmeClient::post(const std::string& url, const std::string& payload) {
  auto reply = post_once(url, payload);
  if (reply && reply->status == 400 &&
      string_field(reply->body, "type") == "urn:ietf:params:acme:error:badNonce") {
    reply = post_once(url, payload);
  }
  if (!reply) return reply;
  if (reply->status >= 400)
    return acme_error(url + ": " + problem_text(reply->body, reply->status));
  return reply;
}

Result<void> AcmeClient::register_account() {
  nlohmann::json request = {{"termsOfServiceAgreed", true}};
  if (!options_.email.empty()) request["contact"] = {"mailto:" + options_.email};
  account_url_.clear();  // newAccount is signed with the JWK, not a kid
  auto reply = post(new_account_url_, request.dump());
  if (!reply) return reply.error();
  if (reply->location.empty()) return acme_error("newAccount gave no account URL");
  account_url_ = reply->location;
  return ok();
}

Result<AcmeClient::Reply> AcmeClient::poll(const std::string& url, Clock::time_point deadline) {
  for (;;) {
    auto reply = post(url, "");
    if (!reply) return reply;
    const std::string status = string_field(reply->body, "status");
    if (status != "pending" && status != "processing") return reply;
    if (Clock::now() >= deadline) {
      return acme_error(url + " still " + status + " at the deadline");
    }
    auto wait = reply->retry_after.count() > 0 ? reply->retry_after : options_.poll_interval;
    if (auto paused = pause(wait); !paused) return paused.error();
  }
}

Result<void> AcmeClient::authorize(const std::string& authorization_url,
                                   ChallengeResponder& responder, Clock::time_point deadline) {
  auto authorization = post(authorization_url, "");
  if (!authorization) return authorization.error();
  const std::string status = string_field(authorization->body, "status");
  if (status == "valid") return ok();
  if (status != "pending") return acme_error(authorization_url + " is " + status);
  const std::string name =
      string_field(authorization->body.value("identifier", nlohmann::json::object()), "value");
  std::string challenge_url;
  std::string token;
  const auto challenges = authorization->body.value("challenges", nlohmann::json::array());
  for (const auto& challenge : challenges) {
    if (string_field(challenge, "type") == "http-01") {
      challenge_url = string_field(challenge, "url");
      token = string_field(challenge, "token");
    }
  }
  // The token becomes a URL path: only base64url characters are acceptable.
  if (challenge_url.empty() || token.empty() || !base64url_decode(token)) {
    return acme_error("no usable http-01 challenge for " + name);
  }
  const std::string key_authorization = token + "." + key_.thumbprint();
  if (auto published = responder.publish(token, key_authorization); !published) {
    return published.error();
  }
  struct Withdraw {
    ChallengeResponder& responder;
    const std::string& token;
    ~Withdraw() { responder.withdraw(token); }
  } withdraw{responder, token};
  if (auto started = post(challenge_url, "{}"); !started) return started.error();
  auto final_state = poll(authorization_url, deadline);
  if (!final_state) return final_state.error();
  if (string_field(final_state->body, "status") == "valid") return ok();
  // The challenge's own error says why (connection refused, wrong content, ...).
  std::string why = string_field(final_state->body, "status");
  for (const auto& challenge : final_state->body.value("challenges", nlohmann::json::array())) {
    if (challenge.is_object() && challenge.contains("error")) {
      why = problem_summary(challenge["error"]);
    }
  }
  return acme_error("http-01 for " + name + " failed: " + why);
}

Result<IssuedCertificate> AcmeClient::issue(const std::vector<std::string>& hostnames,
                                            ChallengeResponder& responder) {
  if (account_url_.empty()) return acme_error("register_account() first");
  const auto deadline = Clock::now() + options_.order_deadline;
  nlohmann::json identifiers = nlohmann::json::array();
  for (const auto& name : hostnames) identifiers.push_back({{"type", "dns"}, {"value", name}});
  auto order = post(new_order_url_, nlohmann::json{{"identifiers", identifiers}}.dump());
  if (!order) return order.error();
  const std::string order_url = order->location;
  const std::string finalize_url = string_field(order->body, "finalize");
  if (order_url.empty() || finalize_url.empty()) return acme_error("newOrder: no order URL");
  for (const auto& authorization : order->body.value("authorizations", nlohmann::json::array())) {
    if (!authorization.is_string()) return acme_error("newOrder: bad authorizations");
    if (auto done = authorize(authorization.get<std::string>(), responder, deadline); !done) {
      return done.error();
    }
  }
  auto request = make_certificate_request(hostnames);
  if (!request) return request.error();
  auto finalized = post(finalize_url, nlohmann::json{{"csr", base64url(request->csr_der)}}.dump());
  if (!finalized) return finalized.error();
  auto done = poll(order_url, deadline);
  if (!done) return done.error();
  if (string_field(done->body, "status") != "valid") {
    return acme_error("order " + order_url + " is " + string_field(done->body, "status"));
  }
  const std::string certificate_url = string_field(done->body, "certificate");
  if (certificate_url.empty()) return acme_error("valid order without a certificate URL");
  auto certificate = post(certificate_url, "");
  if (!certificate) return certificate.error();
  if (certificate->raw.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return acme_error("the certificate download is not PEM");
  }
  return IssuedCertificate{std::move(request->key_pem), std::move(certificate->raw)};
}

}  // namespace cloudlink::acme
