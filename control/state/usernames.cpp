#include "control/state/usernames.h"

#include <string>

#include "control/state/errors.h"

namespace cloudlink::state {

Result<void> validate_username(std::string_view name, std::string_view field) {
  if (name.empty() || name.size() > kMaxUsername) {
    return invalid_field(std::string(field), "must be 1 to 32 characters");
  }
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '-' && c != '_' && c != '.'))) {
      return invalid_field(std::string(field),
                           "use lower-case letters, digits, '-', '_' and '.', starting with a "
                           "letter or digit");
    }
  }
  return ok();
}

Result<void> validate_password(std::string_view password) {
  if (password.size() < kMinPassword || password.size() > kMaxPassword) {
    return invalid_field("password", "must be 8 to 1024 bytes");
  }
  return ok();
}

}  // namespace cloudlink::state
