// `cloudlink-control init`: the one first-run step on a VPS after the package is installed.
// It makes and initialises the data folder (DATA/state, DATA/routes), adds the first admin,
// writes the settings derived from the VPS's domain into control.conf (edited in place,
// comments kept), gives the folder to the service users and starts the services.
//
// Everything is checked before anything changes. Re-running is safe: an initialised folder
// and an existing admin are reported and left as they are, settings already in place are not
// rewritten, and a setting the file holds with another value is a refusal (exit 2, nothing
// changed) unless --force replaces it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/settings_edit.h"
#include "control/route_commands.h"

namespace cloudlink::control {

inline constexpr const char* kLetsEncryptDirectory =
    "https://acme-v02.api.letsencrypt.org/directory";
inline constexpr const char* kControlListenTls = "127.0.0.1:8443";

struct InitOptions {
  std::string data_dir;  // state::kDefaultDataDir unless --data
  std::string config;    // kDefaultControlConfig unless --config
  std::string domain;    // the VPS's DNS name; empty: control.conf is not touched
  std::string admin;     // empty: no admin added
  std::string password;  // the admin's (from stdin)
  std::string acme_directory = kLetsEncryptDirectory;
  std::string acme_email;
  std::string acme_ca_bundle;
  std::string owner = "cloudlink-control";
  bool owner_given = false;  // --owner named: a missing user is an error, not a note
  bool chown = true;         // false: --no-chown
  bool start = true;         // false: --no-start
  std::string systemctl;     // empty: systemctl, when systemd runs (control/service_start.h)
  bool force = false;        // replace settings the file holds with other values
};

// The control.conf settings init writes for options.domain (empty when there is none): the
// TLS listener on loopback behind the dataplane, control's own certificate from ACME for the
// domain, the SSH host homes are told, the dataplane's PROXY header trusted, the data folder.
std::vector<SettingUpdate> domain_settings(const InitOptions& options);

// Runs init; each step's line goes to say() as it is done. The outcome's text is the last line
// (or the one-line error).
CommandOutcome run_init(const InitOptions& options, const std::function<void(std::string)>& say);

}  // namespace cloudlink::control
