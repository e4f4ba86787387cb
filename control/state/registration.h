// Who may sign up. `open`: sign-up makes an active user; `approval`: an inactive one that an
// admin approves; `closed`: sign-up needs an invitation. An invitation is a random code an
// admin creates (shown once; stored only as its BLAKE2b digest, like a token), single use and
// expiring; in any mode, signing up with one makes an active user (the admin approved ahead).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace cloudlink::state {

enum class RegistrationMode { kOpen, kApproval, kClosed };

// "open" / "approval" / "closed"; anything else is invalid naming the setting.
Result<RegistrationMode> parse_registration_mode(std::string_view text);
const char* registration_mode_name(RegistrationMode mode);

struct Invitation {
  std::string id;  // 16 hex digits of the code's digest: names it in lists and deletes
  std::string created_by;
  int64_t created_at = 0;
  int64_t expires_at = 0;
};

struct IssuedInvitation {
  std::string code;  // shown once
  Invitation invitation;
};

inline constexpr int64_t kDefaultInvitationSeconds = 7 * 24 * 3600;
inline constexpr size_t kMaxInvitationCode = 128;

std::string encode(const Invitation& invitation);
Result<Invitation> decode_invitation(std::string_view bytes);

}  // namespace cloudlink::state
