// Path parameters that name a user, read once for every handler that takes one: a segment
// that cannot be a username (invalid UTF-8, NUL, too long, a '/' decoded from %2F, ...) is a
// 400 naming the parameter, before anything is looked up or written to the audit log.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "control/http/message.h"

namespace cloudlink::control::api {

Result<std::string> username_param(const http::Request& request, std::string_view name = "name");

}  // namespace cloudlink::control::api
