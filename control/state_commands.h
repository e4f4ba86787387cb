// The cloudlink-control commands that act on the state store (DATA/state): users, homes, routes
// sync, and sshd's authorized-keys lookup. They run as the local admin (audit actor "cli").
#pragma once

#include <string>

#include "common/result.h"
#include "control/route_commands.h"
#include "control/state/state_store.h"

namespace cloudlink::control {

CommandOutcome users_add(const std::string& data_dir, const std::string& name, bool admin,
                         const std::string& password);
CommandOutcome users_approve(const std::string& data_dir, const std::string& name);
CommandOutcome users_deactivate(const std::string& data_dir, const std::string& name);
CommandOutcome users_list(const std::string& data_dir, bool json);
// Sets when a user or a home expires (unix seconds; 0: never); prints it as JSON.
CommandOutcome users_expire(const std::string& data_dir, const std::string& name,
                            int64_t expires_at);
CommandOutcome homes_expire(const std::string& data_dir, const std::string& id, int64_t expires_at);

// Sets the tunnel port allocation of options: port_range "FIRST-LAST" (empty: keep) and
// port_block ports per home (0: keep); an error naming the flag when either is out of range.
Result<void> set_port_allocation(state::StoreOptions& options, const std::string& port_range,
                                 unsigned port_block);

// A home for owner with the key line; prints its id and ports (or JSON). port_range
// ("FIRST-LAST") and port_block (ports per home), when given, replace the store's defaults
// (20000-29999, 10) for this allocation; port_quarantine_seconds (>= 0) the minimum time a
// deleted home's block stays quarantined.
CommandOutcome homes_create(const std::string& data_dir, const std::string& owner,
                            const std::string& name, const std::string& public_key, bool json,
                            const std::string& port_range = {}, unsigned port_block = 0,
                            int64_t port_quarantine_seconds = -1);
CommandOutcome homes_delete(const std::string& data_dir, const std::string& id);
CommandOutcome homes_list(const std::string& data_dir, bool json);

// Rebuilds DATA/routes from the state in one transaction.
CommandOutcome routes_sync(const std::string& data_dir);

// For sshd's AuthorizedKeysCommand (%u %t %k): the one authorized_keys line for the key of an
// active home, or nothing (exit 0) for any other user or key. Reads the state only; with a
// sessions_dir it records which key the calling sshd monitor (its parent) let in
// (control/sessions/session_spool.h), never failing the login when it cannot.
CommandOutcome authorized_keys(const std::string& data_dir, const std::string& user,
                               const std::string& key_type, const std::string& key,
                               const std::string& sessions_dir = {});

}  // namespace cloudlink::control
