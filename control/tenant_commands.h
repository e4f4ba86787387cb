// cloudlink-control commands for tenancy: invitations (closed or approval registration) and
// per-user quotas. They run as the local admin (audit actor "cli").
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "control/route_commands.h"
#include "control/state/quotas.h"

namespace cloudlink::control {

// expires: a duration ("7d"); prints the code (shown once) and its id, or JSON.
CommandOutcome invitations_create(const std::string& data_dir, const std::string& expires,
                                  bool json);
CommandOutcome invitations_list(const std::string& data_dir, bool json);
CommandOutcome invitations_delete(const std::string& data_dir, const std::string& id);

// Sets the user's own quota values (clear: back to the defaults first), then prints the
// user's quota as JSON. The limits shown follow this process's defaults, which are those of
// the settings file only when it is serve's (`serve` applies control.conf).
CommandOutcome users_quota(const std::string& data_dir, const std::string& name,
                           const state::QuotaOverride& values, bool clear);

}  // namespace cloudlink::control
