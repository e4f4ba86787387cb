#include "control/api/path_params.h"

#include "control/state/usernames.h"

namespace cloudlink::control::api {

Result<std::string> username_param(const http::Request& request, std::string_view name) {
  std::string_view value = request.param(name);
  if (auto valid = state::validate_username(value, "path parameter " + std::string(name)); !valid) {
    return valid.error();
  }
  return std::string(value);
}

}  // namespace cloudlink::control::api
