// Which hostnames a home may map, beyond the syntax (common/hostname.h):
//  * not a public suffix, nor a wildcard directly under one: the Public Suffix List, through
//    libpsl and Debian's `publicsuffix` data (ICANN and private sections: `co.uk`,
//    `*.co.uk`, `github.io`). A TLD the list does not name is a suffix by its implicit `*`
//    rule, so `test`, `*.test` and `*.localhost` are refused while `app.test` is not;
//  * not an IP literal: IPv4 in any form inet_aton takes (127.0.0.1, 127.1, 0x7f.1,
//    2130706433) and any name whose last label is numeric, as a URL parser would read it;
//  * with allowed_domains set, only those zones and names under them (`example.net` allows
//    `example.net`, `a.example.net`, `*.example.net`): anything else is forbidden (403) with
//    a message naming the setting.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cloudlink::state {

struct HostnamePolicyOptions {
  std::vector<std::string> allowed_domains;  // lower-case zones; empty: any
};

class HostnamePolicy {
 public:
  // Loads the newest Public Suffix List available (the publicsuffix package's, else libpsl's
  // built-in one); an error when there is none, or a zone in allowed_domains is not a
  // hostname.
  static Result<std::shared_ptr<const HostnamePolicy>> make(HostnamePolicyOptions options);
  ~HostnamePolicy();

  // host: lower-case, syntax already checked (validate_route_hostname). invalid (400) for a
  // public suffix or an IP literal, forbidden (403) outside allowed_domains.
  Result<void> check(std::string_view host) const;

 private:
  struct Psl;
  HostnamePolicy(HostnamePolicyOptions options, std::unique_ptr<Psl> psl);
  HostnamePolicyOptions options_;
  std::unique_ptr<Psl> psl_;
};

}  // namespace cloudlink::state
