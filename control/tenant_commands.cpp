#include "control/tenant_commands.h"

#include <nlohmann/json.hpp>

#include "common/units.h"
#include "control/api/views.h"
#include "control/state/state_store.h"

namespace cloudlink::control {
namespace {

using state::Caller;
using state::StateStore;

CommandOutcome failure(const Error& error) {
  bool input = error.code().category() == state::state_category();
  return {input ? kExitUsage : kExitRuntime, input ? error.context() : error.message()};
}

}  // namespace

CommandOutcome invitations_create(const std::string& data_dir, const std::string& expires,
                                  bool json) {
  auto seconds = parse_duration_seconds(expires);
  if (!seconds) return {kExitUsage, "--expires: " + seconds.error().context()};
  auto store = StateStore::open(data_dir);
  if (!store) return failure(store.error());
  auto issued = (*store)->invitations_create(Caller::local_admin(), *seconds);
  if (!issued) return failure(issued.error());
  if (json) return {kExitOk, api::invitation_json(*issued).dump() + "\n"};
  return {kExitOk, issued->code + "\n"};
}

CommandOutcome invitations_list(const std::string& data_dir, bool json) {
  auto store = StateStore::open(data_dir);
  if (!store) return failure(store.error());
  auto list = (*store)->invitations_list(Caller::local_admin());
  if (!list) return failure(list.error());
  nlohmann::json out = nlohmann::json::array();
  std::string text;
  for (const auto& invitation : *list) {
    out.push_back(api::invitation_json(invitation));
    text += invitation.id + " by=" + invitation.created_by +
            " expires_at=" + std::to_string(invitation.expires_at) + "\n";
  }
  return {kExitOk, json ? out.dump(2) + "\n" : text};
}

CommandOutcome invitations_delete(const std::string& data_dir, const std::string& id) {
  auto store = StateStore::open(data_dir);
  if (!store) return failure(store.error());
  if (auto deleted = (*store)->invitations_delete(Caller::local_admin(), id); !deleted) {
    return failure(deleted.error());
  }
  return {kExitOk, "deleted invitation " + id + "\n"};
}

CommandOutcome users_quota(const std::string& data_dir, const std::string& name,
                           const state::QuotaOverride& values, bool clear) {
  auto store = StateStore::open(data_dir);
  if (!store) return failure(store.error());
  auto current = (*store)->quota_get(Caller::local_admin(), name);
  if (!current) return failure(current.error());
  state::QuotaOverride own = clear ? state::QuotaOverride{} : current->own;
  if (values.homes) own.homes = values.homes;
  if (values.mappings) own.mappings = values.mappings;
  if (values.port_blocks) own.port_blocks = values.port_blocks;
  auto view = (*store)->quota_set(Caller::local_admin(), name, own);
  if (!view) return failure(view.error());
  return {kExitOk, api::quota_json(*view).dump() + "\n"};
}

}  // namespace cloudlink::control
