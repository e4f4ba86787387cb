// cloudlink-control: the admin CLI. Parses arguments and prints; the commands live in the
// cloudlink_control library.
#include <CLI/CLI.hpp>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <filesystem>

#include "common/cidr.h"
#include "common/cli_parse.h"
#include "common/hostname.h"
#include "common/log.h"
#include "common/settings_cli.h"
#include "common/units.h"
#include "control/api/serve_api.h"
#include "control/backup/backup_commands.h"
#include "control/init_command.h"
#include "control/route_commands.h"
#include "control/serve_flags.h"
#include "control/sessions/reaper.h"
#include "control/state/data_folder.h"
#include "control/state_commands.h"
#include "control/tenant_commands.h"

namespace {

using cloudlink::control::CommandOutcome;

int finish(const CommandOutcome& outcome) {
  if (outcome.exit_code == cloudlink::control::kExitOk) {
    std::fputs(outcome.text.c_str(), stdout);
  } else {
    cloudlink::log_error("%s", outcome.text.c_str());
  }
  return outcome.exit_code;
}

// The password from stdin: the first line, without its line ending (never from argv, which
// other local users can read in /proc).
std::string read_password() {
  std::string line;
  std::getline(std::cin, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// `init`'s flags; parsed into cli.options (the password is read after parsing).
struct InitCli {
  cloudlink::control::InitOptions options;
  bool password_stdin = false;
  bool no_chown = false;
  bool no_start = false;
  CLI::Option* owner = nullptr;
};

CLI::App* add_init_command(CLI::App& app, InitCli& cli) {
  cloudlink::control::InitOptions& o = cli.options;
  o.data_dir = cloudlink::state::kDefaultDataDir;
  o.config = cloudlink::control::kDefaultControlConfig;
  CLI::App* init_cmd = app.add_subcommand(
      "init", "first run on a VPS: make the data folder, the first admin, control.conf; start");
  init_cmd->add_option("--data", o.data_dir, "data directory to make")->capture_default_str();
  init_cmd->add_option("--config", o.config, "control's settings file to edit in place")
      ->capture_default_str();
  CLI::Option* init_domain =
      init_cmd->add_option("--domain", o.domain, "the VPS's DNS name (control's own name)");
  CLI::Option* init_admin = init_cmd->add_option("--admin", o.admin, "first admin's username");
  CLI::Option* init_stdin =
      init_cmd->add_flag("--password-stdin", cli.password_stdin, "read its password from stdin");
  init_admin->needs(init_stdin);
  init_stdin->needs(init_admin);
  init_cmd->add_option("--acme-directory", o.acme_directory, "ACME directory URL")
      ->needs(init_domain)
      ->capture_default_str();
  init_cmd->add_option("--acme-email", o.acme_email, "ACME account contact")->needs(init_domain);
  init_cmd
      ->add_option("--acme-ca-bundle", o.acme_ca_bundle,
                   "PEM file the ACME server's certificate must chain to")
      ->needs(init_domain);
  cli.owner = init_cmd->add_option("--owner", o.owner, "system user the data folder goes to")
                  ->capture_default_str();
  init_cmd->add_flag("--no-chown", cli.no_chown, "leave the folder's owner and modes")
      ->excludes(cli.owner);
  init_cmd->add_flag("--no-start", cli.no_start, "do not enable and start the services");
  init_cmd->add_option("--systemctl", o.systemctl,
                       "systemctl program to run (default: systemctl when systemd runs)");
  init_cmd->add_flag("--force", o.force, "replace settings control.conf holds otherwise");
  return init_cmd;
}

// "250ms", or a duration in s, m, h, d; at least 10 ms.
cloudlink::Result<int64_t> parse_interval_ms(const std::string& text) {
  int64_t ms = 0;
  if (text.size() > 2 && text.compare(text.size() - 2, 2, "ms") == 0) {
    auto seconds = cloudlink::parse_duration_seconds(text.substr(0, text.size() - 2));
    if (!seconds) return seconds.error();
    ms = *seconds;
  } else {
    auto seconds = cloudlink::parse_duration_seconds(text);
    if (!seconds) return seconds.error();
    ms = *seconds * 1000;
  }
  if (ms < 10) return cloudlink::invalid(text + ": at least 10ms");
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  cloudlink::log_program_name() = "cloudlink-control";
  CLI::App app{"cloudlink-control: manage cloudlink users, homes and the route table"};
  app.require_subcommand(1);
  InitCli init;
  CLI::App* init_cmd = add_init_command(app, init);

  CLI::App* routes = app.add_subcommand("routes", "add, remove and list routes");
  routes->require_subcommand(1);

  cloudlink::control::RouteAddOptions add;
  CLI::App* add_cmd = routes->add_subcommand("add", "add a route, or replace a host's route");
  add_cmd->add_option("HOST", add.host, "hostname or *.wildcard, lower-case")->required();
  add_cmd->add_option("TARGET", add.targets, "ADDR:PORT[,ADDR:PORT...] for TLS")->required();
  add_cmd->add_option("--proxy-protocol", add.proxy_protocol, "send a PROXY header: v2");
  add_cmd->add_option("--http-target", add.http_target, "ADDR:PORT for plain HTTP on :80");
  add_cmd->add_option("--home", add.home, "owning home id")->capture_default_str();
  add_cmd->add_option("--data", add.data_dir, "data directory")->capture_default_str();

  std::string rm_host;
  std::string rm_data = cloudlink::state::kDefaultDataDir;
  CLI::App* rm_cmd = routes->add_subcommand("rm", "remove a host's route");
  rm_cmd->add_option("HOST", rm_host, "hostname")->required();
  rm_cmd->add_option("--data", rm_data, "data directory")->capture_default_str();

  std::string list_data = cloudlink::state::kDefaultDataDir;
  bool list_json = false;
  CLI::App* list_cmd = routes->add_subcommand("list", "print the route table");
  list_cmd->add_option("--data", list_data, "data directory")->capture_default_str();
  list_cmd->add_flag("--json", list_json, "print JSON");

  std::string sync_data = cloudlink::state::kDefaultDataDir;
  CLI::App* sync_cmd = routes->add_subcommand("sync", "rebuild the route table from the state");
  sync_cmd->add_option("--data", sync_data, "data directory")->capture_default_str();

  CLI::App* users = app.add_subcommand("users", "add, approve and list users");
  users->require_subcommand(1);
  std::string user_name;
  std::string users_data = cloudlink::state::kDefaultDataDir;
  bool user_admin = false;
  bool password_stdin = false;
  CLI::App* users_add_cmd = users->add_subcommand("add", "add an active user");
  users_add_cmd->add_option("NAME", user_name, "username")->required();
  users_add_cmd->add_flag("--admin", user_admin, "make the user an admin");
  users_add_cmd->add_flag("--password-stdin", password_stdin, "read the password from stdin")
      ->required();
  users_add_cmd->add_option("--data", users_data, "data directory")->capture_default_str();
  CLI::App* users_approve_cmd = users->add_subcommand("approve", "activate a signed-up user");
  users_approve_cmd->add_option("NAME", user_name, "username")->required();
  users_approve_cmd->add_option("--data", users_data, "data directory")->capture_default_str();
  CLI::App* users_deactivate_cmd = users->add_subcommand(
      "deactivate", "stop a user: no login, tokens revoked, its homes' keys refused by sshd");
  users_deactivate_cmd->add_option("NAME", user_name, "username")->required();
  users_deactivate_cmd->add_option("--data", users_data, "data directory")->capture_default_str();
  // Expiry, for users and homes alike: exactly one of --at, --in, --never.
  struct ExpiryFlags {
    int64_t at = -1;
    std::string in;
    bool never = false;
  };
  auto add_expiry_flags = [](CLI::App* cmd, ExpiryFlags& flags) {
    auto* at = cmd->add_option("--at", flags.at, "expire at this time (unix seconds)")
                   ->check(CLI::Range(int64_t{1}, int64_t{253402300799}));
    auto* in = cmd->add_option("--in", flags.in, "expire this long from now (s, m, h, d)")
                   ->check(cloudlink::duration_validator());
    auto* never = cmd->add_flag("--never", flags.never, "lift the expiry");
    at->excludes(in)->excludes(never);
    in->excludes(never);
  };
  ExpiryFlags user_expiry;
  CLI::App* users_expire_cmd = users->add_subcommand(
      "expire",
      "set when a user expires: from then no login, tokens revoked, its homes' keys refused, "
      "their sessions cut and routes withdrawn");
  users_expire_cmd->add_option("NAME", user_name, "username")->required();
  add_expiry_flags(users_expire_cmd, user_expiry);
  users_expire_cmd->add_option("--data", users_data, "data directory")->capture_default_str();
  bool users_json = false;
  CLI::App* users_list_cmd = users->add_subcommand("list", "print the users");
  users_list_cmd->add_flag("--json", users_json, "print JSON");
  users_list_cmd->add_option("--data", users_data, "data directory")->capture_default_str();

  CLI::App* users_quota_cmd =
      users->add_subcommand("quota", "set a user's own quota values and print its quota (JSON)");
  users_quota_cmd->add_option("NAME", user_name, "username")->required();
  std::optional<uint32_t> quota_homes;
  std::optional<uint32_t> quota_mappings;
  std::optional<uint32_t> quota_port_blocks;
  bool quota_clear = false;
  users_quota_cmd->add_option("--homes", quota_homes, "homes it may hold")
      ->check(CLI::Range(0u, cloudlink::state::kMaxQuotaValue));
  users_quota_cmd->add_option("--mappings", quota_mappings, "mappings it may hold")
      ->check(CLI::Range(0u, cloudlink::state::kMaxQuotaValue));
  users_quota_cmd->add_option("--port-blocks", quota_port_blocks, "port blocks it may hold")
      ->check(CLI::Range(0u, cloudlink::state::kMaxQuotaValue));
  users_quota_cmd->add_flag("--default", quota_clear,
                            "forget its own values first (back to the defaults)");
  users_quota_cmd->add_option("--data", users_data, "data directory")->capture_default_str();

  CLI::App* invitations = app.add_subcommand("invitations", "sign-up invitations");
  invitations->require_subcommand(1);
  std::string invitations_data = cloudlink::state::kDefaultDataDir;
  std::string invitation_expires = "7d";
  std::string invitation_id;
  bool invitations_json = false;
  CLI::App* invitations_create_cmd =
      invitations->add_subcommand("create", "a single-use sign-up code (printed once)");
  invitations_create_cmd
      ->add_option("--expires", invitation_expires, "valid this long (s, m, h, d)")
      ->check(cloudlink::duration_validator())
      ->capture_default_str();
  invitations_create_cmd->add_flag("--json", invitations_json, "print JSON");
  invitations_create_cmd->add_option("--data", invitations_data, "data directory")
      ->capture_default_str();
  CLI::App* invitations_list_cmd = invitations->add_subcommand("list", "unused invitations");
  invitations_list_cmd->add_flag("--json", invitations_json, "print JSON");
  invitations_list_cmd->add_option("--data", invitations_data, "data directory")
      ->capture_default_str();
  CLI::App* invitations_delete_cmd = invitations->add_subcommand("delete", "revoke an invitation");
  invitations_delete_cmd->add_option("ID", invitation_id, "invitation id")->required();
  invitations_delete_cmd->add_option("--data", invitations_data, "data directory")
      ->capture_default_str();

  CLI::App* homes = app.add_subcommand("homes", "create, delete and list homes");
  homes->require_subcommand(1);
  std::string homes_data = cloudlink::state::kDefaultDataDir;
  std::string home_owner;
  std::string home_name;
  std::string home_key;
  std::string home_id;
  bool homes_json = false;
  CLI::App* homes_create_cmd = homes->add_subcommand("create", "create a home for a user");
  homes_create_cmd->add_option("NAME", home_name, "home name")->required();
  homes_create_cmd->add_option("--owner", home_owner, "owning user")->required();
  homes_create_cmd->add_option("--key", home_key, "OpenSSH public key line")->required();
  homes_create_cmd->add_flag("--json", homes_json, "print JSON");
  std::string home_port_range;
  unsigned home_port_block = 0;
  homes_create_cmd->add_option("--port-range", home_port_range,
                               "allocate from FIRST-LAST (default 20000-29999)");
  homes_create_cmd->add_option("--port-block", home_port_block, "ports per home (default 10)");
  std::string home_port_quarantine;
  homes_create_cmd
      ->add_option("--port-quarantine", home_port_quarantine,
                   "reuse a deleted home's free ports only after this (default 30s)")
      ->check(cloudlink::duration_validator());
  homes_create_cmd->add_option("--data", homes_data, "data directory")->capture_default_str();
  CLI::App* homes_delete_cmd = homes->add_subcommand("delete", "delete a home and its mappings");
  homes_delete_cmd->add_option("ID", home_id, "home id")->required();
  homes_delete_cmd->add_option("--data", homes_data, "data directory")->capture_default_str();
  ExpiryFlags home_expiry;
  CLI::App* homes_expire_cmd = homes->add_subcommand(
      "expire",
      "set when a home expires: from then its key is refused, its sessions cut and its "
      "routes withdrawn");
  homes_expire_cmd->add_option("ID", home_id, "home id")->required();
  add_expiry_flags(homes_expire_cmd, home_expiry);
  homes_expire_cmd->add_option("--data", homes_data, "data directory")->capture_default_str();
  CLI::App* homes_list_cmd = homes->add_subcommand("list", "print the homes");
  homes_list_cmd->add_flag("--json", homes_json, "print JSON");
  homes_list_cmd->add_option("--data", homes_data, "data directory")->capture_default_str();

  std::string ak_user;
  std::string ak_type;
  std::string ak_key;
  std::string ak_data = cloudlink::state::kDefaultDataDir;
  CLI::App* ak_cmd = app.add_subcommand(
      "authorized-keys", "sshd AuthorizedKeysCommand: print the key line for %u %t %k");
  ak_cmd->add_option("USER", ak_user, "ssh user (%u)")->required();
  ak_cmd->add_option("KEYTYPE", ak_type, "key type (%t)")->required();
  ak_cmd->add_option("KEY", ak_key, "base64 key (%k)")->required();
  ak_cmd->add_option("--data", ak_data, "data directory")->capture_default_str();
  std::string ak_sessions;
  ak_cmd->add_option("--sessions-dir", ak_sessions,
                     "record which key each sshd session logged in with, for `sessions reap`");

  CLI::App* sessions = app.add_subcommand("sessions", "the SSH sessions of the tunnel user");
  sessions->require_subcommand(1);
  cloudlink::sessions::ReaperOptions reap;
  std::string reap_interval = "1s";
  pid_t reap_sshd_pid = 0;
  CLI::App* reap_cmd = sessions->add_subcommand(
      "reap",
      "as root: end the sshd sessions that listen on ports no active home holds (deleted or "
      "deactivated homes), until SIGTERM");
  reap_cmd->add_option("--data", reap.data_dir, "data directory (read only)")
      ->capture_default_str();
  reap_cmd->add_option("--ssh-user", reap.ssh_user, "the shared SSH user of every home")
      ->capture_default_str();
  reap_cmd->add_option("--sshd-pid", reap_sshd_pid,
                       "only sessions under this sshd (when one host runs several)");
  reap_cmd->add_option("--sessions-dir", reap.sessions_dir,
                       "where authorized-keys records each session's key: end sessions whose "
                       "key may no longer log in, listener or not");
  reap_cmd->add_option("--interval", reap_interval, "time between scans (s, m; ms suffix too)")
      ->capture_default_str();
  reap.data_dir = cloudlink::state::kDefaultDataDir;

  cloudlink::control::backup::BackupOptions backup;
  CLI::App* backup_cmd =
      app.add_subcommand("backup",
                         "write a consistent copy of the state (and control's ACME account and "
                         "certificate) to FILE, mode 0600, while serve runs");
  CLI::App* restore_cmd = app.add_subcommand(
      "restore", "bring a backup FILE back onto an empty data folder and rebuild the routes");
  for (CLI::App* cmd : {backup_cmd, restore_cmd}) {
    cmd->add_option("FILE", backup.file, "backup archive (tar)")->required();
    cmd->add_option("--data", backup.data_dir, "data directory")->capture_default_str();
    cmd->add_option("--tls-dir", backup.tls_dir,
                    "control's certificate folder (serve's --tls-dir; default DATA/tls)");
  }

  cloudlink::control::api::ApiServeOptions serve;
  std::string serve_port_range;
  unsigned serve_port_block = 0;
  int64_t token_hours = serve.store.token_ttl_seconds / 3600;
  CLI::App* serve_cmd = app.add_subcommand("serve", "run the REST API");
  serve_cmd->add_option("--data", serve.serve.data_dir, "data directory")->capture_default_str();
  CLI::Option* serve_listen =
      serve_cmd->add_option("--listen", serve.serve.listen, "ADDR:PORT, plain HTTP")
          ->capture_default_str();
  std::string serve_listen_tls;
  CLI::Option* serve_tls = serve_cmd->add_option("--listen-tls", serve_listen_tls,
                                                 "ADDR:PORT, HTTPS (instead of --listen)");
  serve_tls->excludes(serve_listen);
  CLI::Option* serve_tls_cert =
      serve_cmd->add_option("--tls-cert", serve.serve.server.tls_cert_file,
                            "PEM certificate chain for --listen-tls (reloaded when it changes)");
  CLI::Option* serve_tls_key = serve_cmd->add_option("--tls-key", serve.serve.server.tls_key_file,
                                                     "PEM private key for --tls-cert");
  cloudlink::control::acme::OwnCertificateOptions acme;
  std::string acme_challenge_listen = "127.0.0.1:0";
  CLI::Option* acme_hostname =
      serve_cmd
          ->add_option("--acme-hostname", acme.hostname,
                       "get the --listen-tls certificate from ACME for this name (the VPS's)")
          ->excludes(serve_tls_cert)
          ->excludes(serve_tls_key);
  // Flags that mean something only with another one: checked once the settings file is in
  // (CLI11's needs() runs before it, and would refuse a flag whose partner is in the file).
  std::vector<std::pair<CLI::Option*, CLI::Option*>> serve_needs = {
      {serve_tls_cert, serve_tls},
      {serve_tls_key, serve_tls},
      {acme_hostname, serve_tls},
      {serve_cmd->add_option("--acme-directory", acme.acme.directory_url, "ACME directory URL"),
       acme_hostname},
      {serve_cmd->add_option("--acme-email", acme.acme.email, "ACME account contact (optional)"),
       acme_hostname},
      {serve_cmd->add_option(
           "--acme-ca-bundle", acme.acme.ca_bundle,
           "PEM file the ACME server's certificate must chain to (default: system)"),
       acme_hostname},
      {serve_cmd
           ->add_option("--acme-challenge-listen", acme_challenge_listen,
                        "ADDR:PORT of the HTTP-01 responder the dataplane's :80 reaches")
           ->capture_default_str(),
       acme_hostname},
      {serve_cmd->add_option("--tls-dir", acme.tls_dir,
                             "where the ACME certificate goes: fullchain.pem, key.pem (0600)"),
       acme_hostname},
  };
  std::string home_certificate_check = "1h";
  serve_cmd
      ->add_option("--home-certificate-check", home_certificate_check,
                   "how often to read each mapped hostname's certificate through its tunnel "
                   "(for the expiry gauge; 0: never)")
      ->check(cloudlink::duration_validator())
      ->capture_default_str();
  serve_cmd
      ->add_option("--metrics-listen", serve.serve.metrics_listen,
                   "ADDR:PORT: serve /metrics here, plain HTTP (loopback, for Prometheus), and "
                   "not on the API listener")
      ->capture_default_str();
  serve_cmd->add_option("--ssh-host", serve.ssh.host, "the VPS name homes' agents connect to")
      ->capture_default_str();
  serve_cmd->add_option("--ssh-port", serve.ssh.port, "the VPS's sshd port")->capture_default_str();
  serve_cmd->add_option("--ssh-user", serve.ssh.user, "the shared SSH user of every home")
      ->capture_default_str();
  serve_cmd->add_option("--port-range", serve_port_range,
                        "allocate tunnel ports from FIRST-LAST (default 20000-29999)");
  serve_cmd->add_option("--port-block", serve_port_block, "ports per home (default 10)");
  serve_cmd->add_option("--token-hours", token_hours, "lifetime of a login token")
      ->check(CLI::Range(1, 24 * 365))
      ->capture_default_str();
  std::vector<std::string> serve_proxies;
  serve_cmd->add_option("--accept-proxy-from", serve_proxies,
                        "CIDR of a load balancer (the dataplane) whose PROXY v1/v2 header is "
                        "required and trusted, repeatable");
  serve_cmd
      ->add_option("--max-connections", serve.serve.server.max_connections,
                   "connections at once (lowered to fit RLIMIT_NOFILE)")
      ->check(CLI::Range(1u, 1000000u))
      ->capture_default_str();
  serve_cmd
      ->add_option("--max-connections-per-source", serve.serve.server.max_connections_per_source,
                   "connections at once from one client address")
      ->check(CLI::Range(1u, 1000000u))
      ->capture_default_str();
  cloudlink::control::TenantFlags tenant;
  cloudlink::control::add_tenant_flags(*serve_cmd, tenant);
  std::string serve_config;
  serve_cmd->add_option("--config", serve_config,
                        std::string("settings file: name = value per line, names as these "
                                    "flags; a flag overrides it (default ") +
                            cloudlink::control::kDefaultControlConfig + " when it exists)");

  cloudlink::add_version_flag(app, "cloudlink-control");
  if (auto code = cloudlink::parse_arguments(app, argc, argv)) return *code;  // help, usage

  if (serve_cmd->parsed()) {
    std::error_code missing;
    if (serve_config.empty() &&
        std::filesystem::exists(cloudlink::control::kDefaultControlConfig, missing)) {
      serve_config = cloudlink::control::kDefaultControlConfig;
    }
    if (!serve_config.empty()) {
      auto settings = cloudlink::read_settings_file(serve_config);
      auto applied = settings ? cloudlink::apply_settings(*serve_cmd, *settings)
                              : cloudlink::Result<void>(settings.error());
      if (!applied) {
        cloudlink::log_error("%s", applied.error().message().c_str());
        return cloudlink::control::kExitUsage;
      }
    }
    for (const auto& [option, partner] : serve_needs) {
      if (option->count() > 0 && partner->count() == 0) {
        cloudlink::log_line("%s requires %s (see --help)", option->get_name().c_str(),
                            partner->get_name().c_str());
        return cloudlink::control::kExitUsage;
      }
    }
    if (auto set = cloudlink::control::apply_tenant_flags(tenant, serve.store); !set) {
      cloudlink::log_error("%s", set.error().context().c_str());
      return cloudlink::control::kExitUsage;
    }
    auto set =
        cloudlink::control::set_port_allocation(serve.store, serve_port_range, serve_port_block);
    if (!set) {
      cloudlink::log_error("%s", set.error().context().c_str());
      return cloudlink::control::kExitUsage;
    }
    serve.store.token_ttl_seconds = token_hours * 3600;
    serve.home_certificate_interval =
        std::chrono::seconds(cloudlink::parse_duration_seconds(home_certificate_check).value());
    for (const std::string& text : serve_proxies) {
      auto network = cloudlink::Cidr::parse(text);
      if (!network) {
        cloudlink::log_error("--accept-proxy-from %s", network.error().context().c_str());
        return cloudlink::control::kExitUsage;
      }
      serve.serve.server.trusted_proxies.push_back(*network);
    }
    if (!acme.hostname.empty()) {
      if (acme.acme.directory_url.empty() || acme.tls_dir.empty()) {
        cloudlink::log_error("--acme-hostname needs --acme-directory and --tls-dir");
        return cloudlink::control::kExitUsage;
      }
      for (char& c : acme.hostname)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (auto valid = cloudlink::validate_route_hostname(acme.hostname);
          !valid || acme.hostname.front() == '*') {
        cloudlink::log_error("--acme-hostname %s: %s", acme.hostname.c_str(),
                             valid ? "a certificate for control's own name is not a wildcard"
                                   : valid.error().context().c_str());
        return cloudlink::control::kExitUsage;
      }
      auto challenge = cloudlink::control::parse_listen(acme_challenge_listen);
      if (!challenge) {
        cloudlink::log_error("--acme-challenge-listen %s: %s", acme_challenge_listen.c_str(),
                             challenge.error().message().c_str());
        return cloudlink::control::kExitUsage;
      }
      std::tie(acme.challenge_host, acme.challenge_port) = challenge.value();
      acme.account_key_file = serve.serve.data_dir + "/acme/account.pem";
      acme.trusted_proxies = serve.serve.server.trusted_proxies;
      serve.serve.server.tls_cert_file = acme.chain_file();
      serve.serve.server.tls_key_file = acme.key_file();
      serve.own_certificate = std::move(acme);
    }
    if (!serve_listen_tls.empty()) {
      if (serve.serve.server.tls_cert_file.empty() || serve.serve.server.tls_key_file.empty()) {
        cloudlink::log_error("--listen-tls needs --tls-cert and --tls-key, or --acme-hostname");
        return cloudlink::control::kExitUsage;
      }
      serve.serve.listen = serve_listen_tls;
    }
    return cloudlink::control::api::run_api_serve(std::move(serve));
  }
  if (init_cmd->parsed()) {
    cloudlink::control::InitOptions& o = init.options;
    for (char& c : o.domain) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    o.owner_given = init.owner->count() > 0;
    o.chown = !init.no_chown;
    o.start = !init.no_start;
    if (init.password_stdin) o.password = read_password();
    return finish(cloudlink::control::run_init(o, [](const std::string& line) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    }));
  }
  if (reap_cmd->parsed()) {
    if (reap_sshd_pid > 0) reap.sshd_pid = reap_sshd_pid;
    auto interval = parse_interval_ms(reap_interval);
    if (!interval) {
      cloudlink::log_line("--interval %s", interval.error().context().c_str());
      return cloudlink::control::kExitUsage;
    }
    reap.interval = std::chrono::milliseconds(*interval);
    return cloudlink::sessions::run_reaper(reap);
  }
  if (add_cmd->parsed()) return finish(cloudlink::control::routes_add(add));
  if (backup_cmd->parsed()) return finish(cloudlink::control::backup::backup_create(backup));
  if (restore_cmd->parsed()) return finish(cloudlink::control::backup::backup_restore(backup));
  if (rm_cmd->parsed()) return finish(cloudlink::control::routes_rm(rm_host, rm_data));
  if (list_cmd->parsed()) return finish(cloudlink::control::routes_list(list_data, list_json));
  namespace cc = cloudlink::control;
  if (sync_cmd->parsed()) return finish(cc::routes_sync(sync_data));
  if (users_add_cmd->parsed()) {
    return finish(cc::users_add(users_data, user_name, user_admin, read_password()));
  }
  if (users_approve_cmd->parsed()) return finish(cc::users_approve(users_data, user_name));
  if (users_deactivate_cmd->parsed()) return finish(cc::users_deactivate(users_data, user_name));
  if (users_list_cmd->parsed()) return finish(cc::users_list(users_data, users_json));
  auto expiry_time = [](const ExpiryFlags& flags) -> int64_t {
    if (flags.never) return 0;
    if (flags.in.empty() && flags.at < 0) return -1;  // refused by the store, named below
    if (!flags.in.empty()) {
      return static_cast<int64_t>(std::time(nullptr)) +
             *cloudlink::parse_duration_seconds(flags.in);
    }
    return flags.at;
  };
  if ((users_expire_cmd->parsed() && expiry_time(user_expiry) < 0) ||
      (homes_expire_cmd->parsed() && expiry_time(home_expiry) < 0)) {
    cloudlink::log_line("expire needs one of --at, --in or --never (see --help)");
    return cloudlink::control::kExitUsage;
  }
  if (users_expire_cmd->parsed()) {
    return finish(cc::users_expire(users_data, user_name, expiry_time(user_expiry)));
  }
  if (homes_expire_cmd->parsed()) {
    return finish(cc::homes_expire(homes_data, home_id, expiry_time(home_expiry)));
  }
  if (users_quota_cmd->parsed()) {
    return finish(cc::users_quota(users_data, user_name,
                                  {quota_homes, quota_mappings, quota_port_blocks}, quota_clear));
  }
  if (invitations_create_cmd->parsed()) {
    return finish(cc::invitations_create(invitations_data, invitation_expires, invitations_json));
  }
  if (invitations_list_cmd->parsed()) {
    return finish(cc::invitations_list(invitations_data, invitations_json));
  }
  if (invitations_delete_cmd->parsed()) {
    return finish(cc::invitations_delete(invitations_data, invitation_id));
  }
  if (homes_create_cmd->parsed()) {
    int64_t quarantine = -1;
    if (!home_port_quarantine.empty()) {
      quarantine = *cloudlink::parse_duration_seconds(home_port_quarantine);
    }
    return finish(cc::homes_create(homes_data, home_owner, home_name, home_key, homes_json,
                                   home_port_range, home_port_block, quarantine));
  }
  if (homes_delete_cmd->parsed()) return finish(cc::homes_delete(homes_data, home_id));
  if (homes_list_cmd->parsed()) return finish(cc::homes_list(homes_data, homes_json));
  if (ak_cmd->parsed())
    return finish(cc::authorized_keys(ak_data, ak_user, ak_type, ak_key, ak_sessions));
  return cloudlink::control::kExitUsage;
}
