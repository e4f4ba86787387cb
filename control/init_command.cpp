#include "control/init_command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "common/hostname.h"
#include "common/settings_file.h"
#include "control/data_owner.h"
#include "control/service_start.h"
#include "control/state/data_folder.h"
#include "control/state/state_store.h"
#include "control/state/usernames.h"

namespace cloudlink::control {
namespace {

// Validation errors carry their own sentence; "Invalid argument" after it adds nothing.
std::string describe(const Error& error) {
  bool sentence = error.code() == std::errc::invalid_argument ||
                  error.code().category() == state::state_category();
  return sentence ? error.context() : error.message();
}

CommandOutcome usage(const std::string& why) { return {kExitUsage, "init: " + why}; }
CommandOutcome failed(const std::string& why) { return {kExitRuntime, "init: " + why}; }

Result<void> check_input(const InitOptions& o) {
  if (o.data_dir.empty()) return invalid("--data is empty");
  if (!o.domain.empty()) {
    if (auto valid = validate_route_hostname(o.domain); !valid) {
      return invalid("--domain " + o.domain + ": " + valid.error().context());
    }
    if (o.domain.front() == '*') return invalid("--domain is the VPS's own name, not a wildcard");
    if (o.acme_directory.rfind("https://", 0) != 0 && o.acme_directory.rfind("http://", 0) != 0) {
      return invalid("--acme-directory must be an http(s) URL, not '" + o.acme_directory + "'");
    }
    if (!o.acme_email.empty() && (o.acme_email.find('@') == std::string::npos ||
                                  o.acme_email.find_first_of(" \t") != std::string::npos)) {
      return invalid("--acme-email must be an address, not '" + o.acme_email + "'");
    }
    std::error_code ec;
    if (!o.acme_ca_bundle.empty() && !std::filesystem::is_regular_file(o.acme_ca_bundle, ec)) {
      return invalid("--acme-ca-bundle " + o.acme_ca_bundle + ": no such file");
    }
  }
  if (!o.admin.empty()) {
    if (auto valid = state::validate_username(o.admin, "--admin"); !valid) return valid.error();
    if (auto valid = state::validate_password(o.password); !valid) return valid.error();
  }
  return ok();
}

// control.conf as it is now: its text ("" when there is no file yet) and its entries.
struct CurrentSettings {
  bool exists = false;
  std::string text;
  SettingsFile parsed;
};

Result<CurrentSettings> read_current(const std::string& path) {
  CurrentSettings current;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return current;
  auto parsed = read_settings_file(path);
  if (!parsed) return parsed.error();
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  current.exists = true;
  current.text = text.str();
  current.parsed = std::move(parsed.value());
  return current;
}

// The updates that change something; a setting held with another value is a conflict.
struct SettingsPlan {
  std::vector<SettingUpdate> changes;
  std::vector<std::string> conflicts;
};

SettingsPlan plan_settings(const std::vector<SettingUpdate>& wanted, const SettingsFile& file) {
  SettingsPlan plan;
  for (const SettingUpdate& update : wanted) {
    std::vector<const SettingsEntry*> held;
    for (const SettingsEntry& entry : file.entries) {
      if (entry.name == update.name) held.push_back(&entry);
    }
    if (held.size() == 1 && held[0]->value == update.value) continue;
    if (!held.empty()) {
      plan.conflicts.push_back(update.name + " is '" + held[0]->value + "' (line " +
                               std::to_string(held[0]->line) + "), not '" + update.value + "'");
    }
    plan.changes.push_back(update);
  }
  return plan;
}

// init's own opens of the store start at LMDB's smallest map: the map a store records is the
// least the next open takes, so serve's --map-size (default 1 GiB) decides, not init.
state::StoreOptions small_store() {
  state::StoreOptions options;
  options.map.initial_bytes = MapLimits::kMinimum;
  return options;
}

// Makes DATA (0750) and its state and routes; the LMDB files group-writable (umask 0007, as
// control runs under UMask=0007).
Result<std::string> create_state(const InitOptions& o) {
  std::error_code ec;
  if (!std::filesystem::exists(o.data_dir, ec)) {
    std::filesystem::create_directories(o.data_dir, ec);
    if (ec) return Error(ec, "mkdir " + o.data_dir);
    ::chmod(o.data_dir.c_str(), 0750);
  }
  const mode_t old_umask = ::umask(0007);
  state::StoreOptions store = small_store();
  store.create = true;
  auto opened = state::StateStore::open(o.data_dir, std::move(store));
  ::umask(old_umask);
  if (!opened) return opened.error();
  return "initialised " + o.data_dir + " (state/, routes/)";
}

Result<std::string> add_admin(const InitOptions& o) {
  const mode_t old_umask = ::umask(0007);
  auto store = state::StateStore::open(o.data_dir, small_store());
  ::umask(old_umask);
  if (!store) return store.error();
  auto caller = state::Caller::local_admin();
  auto users = (*store)->users_list(caller);
  if (!users) return users.error();
  for (const state::User& user : *users) {
    if (user.username == o.admin) {
      return "user " + o.admin + " exists (" + state::role_name(user.role) +
             "): left as it is, password unchanged";
    }
  }
  auto added = (*store)->users_add(caller, o.admin, o.password, state::Role::kAdmin, true);
  if (!added) return added.error();
  return "added admin " + o.admin;
}

std::string names(const std::vector<SettingUpdate>& updates) {
  std::string text;
  for (const SettingUpdate& update : updates) text += (text.empty() ? "" : ", ") + update.name;
  return text;
}

// Ownership per README's production table; a note instead when that cannot be done here.
Result<std::string> settle_owner(const InitOptions& o) {
  auto owner = lookup_data_owner(o.owner);
  if (!owner) {
    if (o.owner_given) return owner.error();
    return "no user " + o.owner + " here (the cloudlink package makes it): " + o.data_dir +
           " keeps its owner";
  }
  if (::geteuid() != 0 && ::geteuid() != owner->uid) {
    return "not root: " + o.data_dir + " keeps its owner (run init as root to give it to " +
           o.owner + ")";
  }
  auto given = give_data_folder(o.data_dir, *owner);
  if (!given) return given.error();
  return given->empty() ? o.data_dir + ": owner " + o.owner + " already" : *given;
}

}  // namespace

std::vector<SettingUpdate> domain_settings(const InitOptions& o) {
  if (o.domain.empty()) return {};
  std::vector<SettingUpdate> updates = {
      {"data", o.data_dir},
      {"listen-tls", kControlListenTls},
      {"acme-hostname", o.domain},
      {"acme-directory", o.acme_directory},
  };
  if (!o.acme_email.empty()) updates.push_back({"acme-email", o.acme_email});
  if (!o.acme_ca_bundle.empty()) updates.push_back({"acme-ca-bundle", o.acme_ca_bundle});
  updates.push_back({"tls-dir", o.data_dir + "/tls"});
  updates.push_back({"ssh-host", o.domain});
  updates.push_back({"accept-proxy-from", "127.0.0.1/32"});
  return updates;
}

CommandOutcome run_init(const InitOptions& o, const std::function<void(std::string)>& say) {
  if (auto checked = check_input(o); !checked) return usage(describe(checked.error()));
  if (o.owner_given && o.chown) {
    if (auto owner = lookup_data_owner(o.owner); !owner) {
      return usage("--owner: " + describe(owner.error()));
    }
  }
  const std::vector<SettingUpdate> wanted = domain_settings(o);
  CurrentSettings current;
  SettingsPlan plan;
  if (!wanted.empty()) {
    auto read = read_current(o.config);
    if (!read) return usage(describe(read.error()));
    current = std::move(read.value());
    plan = plan_settings(wanted, current.parsed);
    if (!plan.conflicts.empty() && !o.force) {
      std::string text = o.config + " holds other values: ";
      for (size_t i = 0; i < plan.conflicts.size(); ++i) {
        text += (i ? "; " : "") + plan.conflicts[i];
      }
      return usage(text + ". Nothing was changed; --force replaces them");
    }
  }
  std::string edited;
  if (!plan.changes.empty()) {
    auto made = edit_settings(current.text, o.config, plan.changes,
                              "# Written by `cloudlink-control init --domain " + o.domain + "`");
    if (!made) return usage(describe(made.error()));
    edited = std::move(made.value());
  }

  // Checked: from here on each step changes what it must and says so.
  if (state::data_folder_initialised(o.data_dir)) {
    say(o.data_dir + " is initialised already: its state is left as it is");
  } else {
    auto created = create_state(o);
    if (!created) return failed(describe(created.error()));
    say(*created);
  }
  if (!o.admin.empty()) {
    auto admin = add_admin(o);
    if (!admin) return failed(describe(admin.error()));
    say(*admin);
  }
  if (!plan.changes.empty()) {
    if (auto written = write_settings_file(o.config, edited); !written) {
      return failed(describe(written.error()));
    }
    say("wrote " + names(plan.changes) + " to " + o.config);
  } else if (!wanted.empty()) {
    say(o.config + ": the settings for " + o.domain + " are in place already");
  }
  if (o.chown) {
    auto owner = settle_owner(o);
    if (!owner) return failed(describe(owner.error()));
    say(*owner);
  }
  if (o.start) {
    auto started = start_services({o.systemctl, !plan.changes.empty()});
    if (!started) return failed(describe(started.error()));
    for (const std::string& line : *started) say(line);
  }
  return {kExitOk, "cloudlink-control init: done (" + o.data_dir + ")\n"};
}

}  // namespace cloudlink::control
