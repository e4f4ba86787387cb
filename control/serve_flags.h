// The flags (and settings-file keys, common/settings_cli.h) of `cloudlink-control serve` that
// shape tenancy and storage: registration mode and sign-up limit, the bound on concurrent
// password hashing, quota defaults, the hostname policy, audit retention, the LMDB map
// limits and the login throttle's window. Text values (sizes, durations) are checked by the
// same validators on the command line and in the file, then converted once here.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "control/state/state_store.h"

namespace cloudlink::control {

// The settings file serve reads when --config is not given and it exists.
inline constexpr const char* kDefaultControlConfig = "/etc/cloudlink/control.conf";

struct TenantFlags {
  std::string registration = "approval";
  unsigned signups_per_hour = 10;
  unsigned password_hashes = 2;
  unsigned quota_homes = 3;
  unsigned quota_mappings = 20;
  unsigned quota_port_blocks = 3;
  std::vector<std::string> allowed_domains;
  uint64_t audit_max_records = 1'000'000;
  std::string audit_max_age = "365d";
  std::string map_size = "1GiB";
  std::string map_size_max = "64GiB";
  std::string login_window = "15m";
  std::string port_quarantine = "30s";
};

void add_tenant_flags(CLI::App& serve, TenantFlags& flags);
// Converts the checked flags into options; an error names the flag.
Result<void> apply_tenant_flags(const TenantFlags& flags, state::StoreOptions& options);

}  // namespace cloudlink::control
