#include "control/state/registration.h"

#include <nlohmann/json.hpp>

#include "control/state/errors.h"

namespace cloudlink::state {

Result<RegistrationMode> parse_registration_mode(std::string_view text) {
  if (text == "open") return RegistrationMode::kOpen;
  if (text == "approval") return RegistrationMode::kApproval;
  if (text == "closed") return RegistrationMode::kClosed;
  return invalid_field("registration", "must be open, approval or closed");
}

const char* registration_mode_name(RegistrationMode mode) {
  switch (mode) {
    case RegistrationMode::kOpen:
      return "open";
    case RegistrationMode::kApproval:
      return "approval";
    case RegistrationMode::kClosed:
      return "closed";
  }
  return "approval";
}

std::string encode(const Invitation& invitation) {
  return nlohmann::json{{"v", 1},
                        {"id", invitation.id},
                        {"by", invitation.created_by},
                        {"created_at", invitation.created_at},
                        {"expires_at", invitation.expires_at}}
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<Invitation> decode_invitation(std::string_view bytes) {
  auto j = nlohmann::json::parse(bytes, nullptr, false);
  if (!j.is_object() || j.value("v", 0) != 1) {
    return Error(EIO, "state: invitation record is not a version 1 record");
  }
  try {
    Invitation out;
    out.id = j.at("id").get<std::string>();
    out.created_by = j.at("by").get<std::string>();
    out.created_at = j.at("created_at").get<int64_t>();
    out.expires_at = j.at("expires_at").get<int64_t>();
    return out;
  } catch (const nlohmann::json::exception& e) {
    return Error(EIO, std::string("state: invitation record: ") + e.what());
  }
}

}  // namespace cloudlink::state
