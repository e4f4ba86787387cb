#include "control/state_commands.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include "common/log.h"
#include "control/api/views.h"
#include "control/sessions/session_spool.h"
#include "control/state/data_folder.h"
#include "control/state/state_store.h"

namespace cloudlink::control {
namespace {

using state::Caller;
using state::StateStore;

CommandOutcome failure(const Error& error) {
  // Bad input (and a refusal the input caused) is a usage error; storage trouble is runtime.
  bool input = error.code().category() == state::state_category();
  return {input ? kExitUsage : kExitRuntime, input ? error.context() : error.message()};
}

std::string home_text(const state::Home& home) {
  return home.id + " " + home.slug + " owner=" + home.owner +
         " ports=" + std::to_string(home.port_first) + "-" +
         std::to_string(home.port_first + home.port_count - 1) + " " + home.key.type + "\n";
}

}  // namespace

CommandOutcome users_add(const std::string& data_dir, const std::string& name, bool admin,
                         const std::string& password) {
  auto store = StateStore::open(data_dir);
  if (!store) return failure(store.error());
  auto user = (*store)->users_add(Caller::local_admin(), name, password,
                                  admin ? state::Role::kAdmin : state::Role::kUser, true);
  if (!user) return failure(user.error());
  return {kExitOk, "added " + std::string(state::role_name(user->role)) + " " + name + "\n"};
}

CommandOutcome users_approve(const std::string& data_dir, const std::string& name) {
  auto store = StateStore::open(data_dir);
  if (!store) return failure(store.error());
  auto user = (*store)->users_approve(Caller::local_admin(), name);
  if (!user) return failure(user.error());
  return {kExitOk, "approved " + name + "\n"};
}

CommandOutcome users_deactivate(const std::string& data_dir, const std::string& name) {
  auto store = StateStore::open(data_dir);
  if (!store) return failure(store.error());
  auto user = (*store)->users_deactivate(Caller::local_admin(), name);
  if (!user) return failure(user.error());
  return {kExitOk, "deactivated " + name + "\n"};
}

CommandOutcome users_expire(const std::string& data_dir, const std::string& name,
                            int64_t expires_at) {
  auto store = StateStore::open(data_dir);
  if (!store) return failure(store.error());
  auto user = (*store)->users_set_expiry(Caller::local_admin(), name, expires_at);
  if (!user) return failure(user.error());
  return {kExitOk, api::user_json(*user).dump() + "\n"};
}

CommandOutcome homes_expire(const std::string& data_dir, const std::string& id,
                            int64_t expires_at) {
  auto store = StateStore::open(data_dir);
  if (!store) return failure(store.error());
  auto home = (*store)->homes_set_expiry(Caller::local_admin(), id, expires_at);
  if (!home) return failure(home.error());
  return {kExitOk, api::home_json(*home).dump() + "\n"};
}

CommandOutcome users_list(const std::string& data_dir, bool json) {
  auto store = StateStore::open(data_dir);
  if (!store) return failure(store.error());
  auto users = (*store)->users_list(Caller::local_admin());
  if (!users) return failure(users.error());
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& u : users.value()) {
      out.push_back(api::user_json(u));
    }
    return {kExitOk, out.dump(2) + "\n"};
  }
  std::string text;
  for (const auto& u : users.value()) {
    text +=
        u.username + " " + state::role_name(u.role) + (u.active ? " active" : " inactive") + "\n";
  }
  return {kExitOk, text};
}

Result<void> set_port_allocation(state::StoreOptions& options, const std::string& port_range,
                                 unsigned port_block) {
  if (!port_range.empty()) {
    unsigned first = 0;
    unsigned last = 0;
    char tail = 0;
    if (std::sscanf(port_range.c_str(), "%u-%u%c", &first, &last, &tail) != 2 || first == 0 ||
        last > 65535 || first > last) {
      return invalid("--port-range must be FIRST-LAST within 1-65535, not '" + port_range + "'");
    }
    options.port_first = static_cast<uint16_t>(first);
    options.port_last = static_cast<uint16_t>(last);
  }
  if (port_block != 0) {
    if (port_block > 1000) return invalid("--port-block must be 1 to 1000");
    options.port_block = static_cast<uint16_t>(port_block);
  }
  return ok();
}

CommandOutcome homes_create(const std::string& data_dir, const std::string& owner,
                            const std::string& name, const std::string& public_key, bool json,
                            const std::string& port_range, unsigned port_block,
                            int64_t port_quarantine_seconds) {
  state::StoreOptions options;
  if (port_quarantine_seconds >= 0) options.port_quarantine_seconds = port_quarantine_seconds;
  if (auto set = set_port_allocation(options, port_range, port_block); !set) {
    return {kExitUsage, set.error().context()};
  }
  auto store = StateStore::open(data_dir, std::move(options));
  if (!store) return failure(store.error());
  auto home = (*store)->homes_create(Caller::local_admin(), name, public_key, owner);
  if (!home) return failure(home.error());
  return {kExitOk, json ? api::home_json(home.value()).dump() + "\n" : home_text(home.value())};
}

CommandOutcome homes_delete(const std::string& data_dir, const std::string& id) {
  auto store = StateStore::open(data_dir);
  if (!store) return failure(store.error());
  if (auto deleted = (*store)->homes_delete(Caller::local_admin(), id); !deleted) {
    return failure(deleted.error());
  }
  return {kExitOk, "deleted home " + id + "\n"};
}

CommandOutcome homes_list(const std::string& data_dir, bool json) {
  auto store = StateStore::open(data_dir);
  if (!store) return failure(store.error());
  auto homes = (*store)->homes_list(Caller::local_admin());
  if (!homes) return failure(homes.error());
  nlohmann::json out = nlohmann::json::array();
  std::string text;
  for (const auto& home : homes.value()) {
    out.push_back(api::home_json(home));
    text += home_text(home);
  }
  return {kExitOk, json ? out.dump(2) + "\n" : text};
}

CommandOutcome routes_sync(const std::string& data_dir) {
  auto store = StateStore::open(data_dir);  // open() already rebuilds the routes...
  if (!store) return failure(store.error());
  auto count = (*store)->sync_routes(Caller::local_admin());  // ...and this reports the count
  if (!count) return failure(count.error());
  return {kExitOk, "synced " + std::to_string(count.value()) + " routes\n"};
}

CommandOutcome authorized_keys(const std::string& data_dir, const std::string& user,
                               const std::string& key_type, const std::string& key,
                               const std::string& sessions_dir) {
  if (auto initialised = state::require_initialised(data_dir); !initialised) {
    return failure(initialised.error());
  }
  auto line = state::authorized_keys_line(data_dir, user, key_type, key);
  if (!line) return {kExitRuntime, line.error().message()};
  if (line.value() && !sessions_dir.empty()) {
    if (auto recorded = sessions::record_session(sessions_dir, ::getppid(), key); !recorded) {
      log_line("authorized-keys: %s", recorded.error().message().c_str());
    }
  }
  return {kExitOk, line.value() ? **line + "\n" : std::string()};
}

}  // namespace cloudlink::control
