// The request-target of an API request (RFC 9112 3.2, origin-form "/path?query"), decoded for
// the router: the path percent-decoded, the query split into name/value pairs (RFC 3986 3.4
// with the form convention '+' = space). A malformed escape is an error, never passed on
// half-decoded. Input comes from common/http_head.h, which has bounded it and checked that it
// is visible ASCII.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace cloudlink::control::http {

struct RequestTarget {
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
};

// A fragment ("#...") is dropped. An error names what was wrong ("path: bad percent-escape").
Result<RequestTarget> decode_request_target(std::string_view target);

// %XX escapes decoded (plus_is_space: '+' becomes ' '); nothing when an escape is not '%'
// followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

}  // namespace cloudlink::control::http
