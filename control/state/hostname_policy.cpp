#include "control/state/hostname_policy.h"

#include <arpa/inet.h>
#include <libpsl.h>

#include "common/hostname.h"
#include "control/state/errors.h"

namespace cloudlink::state {
namespace {

// The last label read as a number the way URL host parsers read IPv4 parts: decimal digits,
// or 0x followed by hex digits (an empty 0x counts).
bool is_numeric_label(std::string_view label) {
  if (label.empty()) return false;
  if (label.size() >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X')) {
    for (char c : label.substr(2)) {
      if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    }
    return true;
  }
  for (char c : label) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool is_ip_literal(std::string_view host) {
  std::string text(host);
  in_addr v4{};
  in6_addr v6{};
  if (inet_aton(text.c_str(), &v4) != 0 || inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    return true;
  }
  size_t dot = host.rfind('.');
  return is_numeric_label(dot == std::string_view::npos ? host : host.substr(dot + 1));
}

bool within(std::string_view host, std::string_view zone) {
  if (host == zone) return true;
  return host.size() > zone.size() && host.substr(host.size() - zone.size()) == zone &&
         host[host.size() - zone.size() - 1] == '.';
}

}  // namespace

struct HostnamePolicy::Psl {
  psl_ctx_t* ctx = nullptr;
  bool owned = false;
  ~Psl() {
    if (owned) psl_free(ctx);
  }
};

HostnamePolicy::HostnamePolicy(HostnamePolicyOptions options, std::unique_ptr<Psl> psl)
    : options_(std::move(options)), psl_(std::move(psl)) {}
HostnamePolicy::~HostnamePolicy() = default;

Result<std::shared_ptr<const HostnamePolicy>> HostnamePolicy::make(HostnamePolicyOptions options) {
  for (std::string& zone : options.allowed_domains) {
    for (char& c : zone) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto valid = validate_route_hostname(zone); !valid || zone.front() == '*') {
      return invalid("allowed-domains: " + zone + ": " +
                     (valid ? std::string("a zone, not a wildcard") : valid.error().context()));
    }
  }
  auto psl = std::make_unique<Psl>();
  // The newest of the system's list (the publicsuffix package) and libpsl's built-in one.
  psl->ctx = psl_latest(nullptr);
  psl->owned = psl->ctx != nullptr;
  if (psl->ctx == nullptr) psl->ctx = const_cast<psl_ctx_t*>(psl_builtin());
  if (psl->ctx == nullptr) {
    return invalid("hostname policy: no Public Suffix List (install Debian's publicsuffix)");
  }
  return std::shared_ptr<const HostnamePolicy>(
      new HostnamePolicy(std::move(options), std::move(psl)));
}

Result<void> HostnamePolicy::check(std::string_view host) const {
  bool wildcard = host.size() > 2 && host[0] == '*' && host[1] == '.';
  std::string base(wildcard ? host.substr(2) : host);
  if (is_ip_literal(base)) {
    return invalid_field("hostname", std::string(host) + " is an IP address, not a name");
  }
  if (psl_is_public_suffix(psl_->ctx, base.c_str()) != 0) {
    return invalid_field("hostname", std::string(host) +
                                         (wildcard ? " is a wildcard directly under the public "
                                                     "suffix " +
                                                         base
                                                   : " is a public suffix") +
                                         " (Public Suffix List): map a name under it");
  }
  if (options_.allowed_domains.empty()) return ok();
  for (const std::string& zone : options_.allowed_domains) {
    if (within(base, zone)) return ok();
  }
  std::string zones;
  for (const std::string& zone : options_.allowed_domains) {
    zones += (zones.empty() ? "" : ", ") + zone;
  }
  return forbidden("hostname: " + std::string(host) + " is outside allowed-domains (" + zones +
                   ")");
}

}  // namespace cloudlink::state
