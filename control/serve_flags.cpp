#include "control/serve_flags.h"

#include "common/settings_cli.h"
#include "common/units.h"

namespace cloudlink::control {

void add_tenant_flags(CLI::App& serve, TenantFlags& flags) {
  serve
      .add_option("--registration", flags.registration,
                  "sign-up: open (active at once), approval (an admin approves), closed "
                  "(needs an invitation)")
      ->check(CLI::IsMember({"open", "approval", "closed"}))
      ->capture_default_str();
  serve
      .add_option("--signups-per-hour", flags.signups_per_hour,
                  "sign-ups allowed per source address in any hour")
      ->check(CLI::Range(1u, 100000u))
      ->capture_default_str();
  serve
      .add_option("--password-hashes", flags.password_hashes,
                  "Argon2id hashes run at once (64 MiB each); more wait up to 5 s, then 503")
      ->check(CLI::Range(1u, 64u))
      ->capture_default_str();
  serve.add_option("--quota-homes", flags.quota_homes, "homes a user may hold (default quota)")
      ->check(CLI::Range(0u, state::kMaxQuotaValue))
      ->capture_default_str();
  serve
      .add_option("--quota-mappings", flags.quota_mappings,
                  "mappings a user may hold across its homes (default quota)")
      ->check(CLI::Range(0u, state::kMaxQuotaValue))
      ->capture_default_str();
  serve
      .add_option("--quota-port-blocks", flags.quota_port_blocks,
                  "tunnel port blocks a user may hold (default quota)")
      ->check(CLI::Range(0u, state::kMaxQuotaValue))
      ->capture_default_str();
  serve
      .add_option("--allowed-domains", flags.allowed_domains,
                  "zones mapping hostnames must be in (comma-separated; default: any)")
      ->delimiter(',');
  serve
      .add_option("--audit-max-records", flags.audit_max_records,
                  "audit records kept, oldest pruned first (0: no count limit)")
      ->capture_default_str();
  serve
      .add_option("--audit-max-age", flags.audit_max_age,
                  "audit records older than this are pruned (0: no age limit)")
      ->check(duration_validator())
      ->capture_default_str();
  serve.add_option("--map-size", flags.map_size, "initial LMDB map of state and routes")
      ->check(byte_size_validator())
      ->capture_default_str();
  serve
      .add_option("--map-size-max", flags.map_size_max,
                  "largest the LMDB maps may grow to when they fill")
      ->check(byte_size_validator())
      ->capture_default_str();
  serve
      .add_option("--login-window", flags.login_window,
                  "failed logins older than this no longer slow a user or address")
      ->check(duration_validator())
      ->capture_default_str();
  serve
      .add_option("--port-quarantine", flags.port_quarantine,
                  "a deleted home's ports go to no other home before this, nor while anything "
                  "listens on them")
      ->check(duration_validator())
      ->capture_default_str();
}

Result<void> apply_tenant_flags(const TenantFlags& flags, state::StoreOptions& options) {
  auto mode = state::parse_registration_mode(flags.registration);
  if (!mode) return invalid("--registration: " + mode.error().context());
  options.registration = *mode;
  options.signups_per_source = flags.signups_per_hour;
  options.signup_window_seconds = 3600;
  options.concurrent_password_hashes = flags.password_hashes;
  options.default_quota = {flags.quota_homes, flags.quota_mappings, flags.quota_port_blocks};
  options.hostname_policy.allowed_domains.clear();
  for (std::string zone : flags.allowed_domains) {
    // "a.example, b.example" in a settings file: the spaces after the commas are not names.
    zone.erase(0, zone.find_first_not_of(" \t"));
    zone.erase(zone.find_last_not_of(" \t") + 1);
    if (!zone.empty()) options.hostname_policy.allowed_domains.push_back(zone);
  }
  options.audit_retention.max_records = flags.audit_max_records;
  auto age = parse_duration_seconds(flags.audit_max_age);
  auto initial = parse_byte_size(flags.map_size);
  auto max = parse_byte_size(flags.map_size_max);
  auto window = parse_duration_seconds(flags.login_window);
  auto quarantine = parse_duration_seconds(flags.port_quarantine);
  if (!age || !initial || !max || !window || !quarantine) {
    return invalid("a size or duration does not parse");
  }
  options.port_quarantine_seconds = *quarantine;
  options.audit_retention.max_age_seconds = *age;
  if (*initial > *max) return invalid("--map-size is larger than --map-size-max");
  options.map.initial_bytes = *initial;
  options.map.max_bytes = *max;
  if (*window == 0) return invalid("--login-window must be at least 1s");
  options.login_window_seconds = *window;
  return ok();
}

}  // namespace cloudlink::control
