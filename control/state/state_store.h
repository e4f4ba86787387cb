// The control plane's state: users, tokens, homes (key + tunnel port block), hostname mappings
// and the audit log, in the LMDB environment DATA/state (the dataplane never opens it), plus
// the `routes` environment DATA/routes kept as its projection.
//
// Every change is one LMDB write transaction that also appends its audit record. A mapping
// change then rewrites the affected routes in one routes transaction, reading the state inside
// the routes writer lock, so concurrent writers (threads or processes) never leave the routes
// behind the state; open() and sync_routes() rebuild the whole routes table from state in one
// transaction, which also repairs a crash between the two commits.
//
// Access control lives here, not in the front ends: every call takes the Caller (who, which
// role, from where). A user sees and changes only its own homes and mappings (someone else's
// home is not_found, as if absent); an admin sees and changes all. Errors are typed
// (control/state/errors.h) and their context() is a message that names the field or object.
//
// Thread-safe: one StateStore may serve every HTTP thread (LMDB serialises writers; readers
// never block and are never blocked).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/lmdb_map.h"
#include "common/result.h"
#include "common/route_record.h"
#include "control/state/audit_retention.h"
#include "control/state/crypto.h"
#include "control/state/errors.h"
#include "control/state/hostname_policy.h"
#include "control/state/quotas.h"
#include "control/state/registration.h"
#include "control/state/ssh_key.h"

namespace cloudlink::state {

enum class Role { kUser, kAdmin };
const char* role_name(Role role);  // "user" / "admin"

// Who is asking. source is the client address ("203.0.113.7", "local" for the CLI); it goes
// into audit records and drives per-source login throttling.
struct Caller {
  std::string username;
  Role role = Role::kUser;
  std::string source;

  bool is_admin() const { return role == Role::kAdmin; }
  // The admin CLI on the VPS itself (audit actor "cli", source "local").
  static Caller local_admin() { return {"cli", Role::kAdmin, "local"}; }
};

struct User {
  std::string username;
  Role role = Role::kUser;
  bool active = false;
  int64_t created_at = 0;  // unix seconds
  int64_t expires_at = 0;  // unix seconds; 0: never
  bool expired = false;    // the expiry has been carried out (tokens revoked, routes gone)
};

// Whether an expiry set at expires_at (0: none) has come by now, or was carried out.
inline bool lapsed(int64_t expires_at, bool expired, int64_t now) {
  return expired || (expires_at != 0 && expires_at <= now);
}

struct IssuedToken {
  std::string token;  // shown once; only its digest is stored
  int64_t expires_at = 0;
  Caller identity;
};

struct Home {
  std::string id;    // 16 hex digits; the route records' owning home
  std::string slug;  // lower-case name, unique across homes
  std::string name;
  std::string owner;
  SshPublicKey key;
  uint16_t port_first = 0;
  uint16_t port_count = 0;
  int64_t created_at = 0;
  int64_t expires_at = 0;  // unix seconds; 0: never
  bool expired = false;    // the expiry has been carried out (routes gone)

  std::vector<uint16_t> ports() const;
  bool owns_port(uint32_t port) const {
    return port >= port_first && port < uint32_t{port_first} + port_count;
  }
};

enum class ProxyProtocol { kNone, kV2 };
// "none"/"" -> kNone, "v2" -> kV2; anything else is invalid("proxy_protocol: ...").
Result<ProxyProtocol> parse_proxy_protocol(std::string_view text);
const char* proxy_protocol_name(ProxyProtocol p);  // "none" / "v2"

struct Mapping {
  std::string hostname;  // lower-case route key; "*.example.com" allowed
  std::string home_id;
  std::vector<uint16_t> tls_ports;    // 1..kMaxRouteTargets ports of the home
  std::optional<uint16_t> http_port;  // plain HTTP on :80 goes here when set
  ProxyProtocol proxy_protocol = ProxyProtocol::kNone;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

// PATCH: only the fields that are set change. http_port = std::optional<uint16_t>{} inside a set
// outer optional clears it.
struct MappingPatch {
  std::optional<std::vector<uint16_t>> tls_ports;
  std::optional<std::optional<uint16_t>> http_port;
  std::optional<ProxyProtocol> proxy_protocol;
};

// A route control owns for itself: its own hostname on the dataplane (the API over TLS, and
// the ACME challenge for that name on :80). Kept in state beside the mappings, so every sync
// of the routes keeps it, and no home may map its hostname.
struct SystemRoute {
  std::string hostname;           // lower-case, exact (no wildcard)
  std::string owner = "control";  // the route record's owning-home field
  SocketAddress tls_target;       // where the dataplane sends TLS for hostname
  SocketAddress http_target;      // plain HTTP on :80 (empty: none, the dataplane redirects)
  bool proxy_v2 = false;          // the dataplane writes a PROXY v2 header to both targets
};

struct AuditRecord {
  uint64_t seq = 0;  // increasing
  int64_t at = 0;    // unix seconds
  std::string actor;
  std::string source;
  std::string action;  // "users.add", "homes.create", "mappings.delete", "login.failed", ...
  std::string target;  // the object: a username, home id, hostname
  std::string detail;  // free text, may be empty
};

struct StoreOptions {
  uint16_t port_first = 20000;  // tunnel ports are allocated in [port_first, port_last]
  uint16_t port_last = 29999;
  uint16_t port_block = 10;  // ports per home
  int64_t token_ttl_seconds = 24 * 3600;
  PasswordCost password_cost = PasswordCost::kInteractive;
  // Failed-login throttling: once `free` failures fall in the sliding window, each further
  // attempt must wait base * 2^(failures - free) seconds (capped) after the last failure.
  // Counted per username and per source address, in memory (a restart forgets them; Argon2id
  // keeps guessing slow); failures older than the window no longer count, and a successful
  // login forgets its user's (not its source's) failures.
  unsigned login_free_failures_per_user = 5;
  unsigned login_free_failures_per_source = 20;
  int64_t login_delay_base_seconds = 1;
  int64_t login_delay_max_seconds = 900;
  int64_t login_window_seconds = 900;
  // The LMDB maps of DATA/state and DATA/routes: where they start and how far they may grow.
  MapLimits map;
  AuditRetention audit_retention;
  // Who may sign up, how often per source address, and how many password hashes (64 MiB of
  // Argon2id each) run at once.
  RegistrationMode registration = RegistrationMode::kApproval;
  unsigned signups_per_source = 10;
  int64_t signup_window_seconds = 3600;
  unsigned concurrent_password_hashes = 2;
  // What a user may hold unless an admin set its own quota.
  Quota default_quota;
  // Mapping hostnames: the public suffix list, IP literals, and the operator's own zones.
  HostnamePolicyOptions hostname_policy;
  // A deleted home's port block goes to no other home while anything listens on its ports
  // (its SSH sessions are being cut by `sessions reap`), and not before this many seconds.
  int64_t port_quarantine_seconds = 30;
  // The loopback/wildcard TCP ports something listens on now; default: /proc/net/tcp{,6}.
  std::function<Result<std::set<uint16_t>>()> listening_ports;
  // Clock (unix seconds); tests replace it.
  std::function<int64_t()> now;
  // Make DATA/state when it is missing (`init`, tests). Without it open() refuses a data folder
  // that was never initialised (control/state/data_folder.h) instead of creating an empty one.
  bool create = false;
};

// A deleted home's port block, held back until nothing listens on it.
struct QuarantinedBlock {
  uint16_t port_first = 0;
  uint16_t port_count = 0;
  std::string home_id;  // the deleted home
  int64_t since = 0;
};

// What the session reaper may let live: the ports (and keys) of homes that may log in now.
struct SessionPolicy {
  std::map<uint16_t, std::string> ports;  // port -> home id
  std::set<std::string> keys;             // key base64 of those homes
};

class StateStore {
 public:
  // Opens DATA/state and DATA/routes (creating them only with options.create; otherwise a
  // folder never initialised is an invalid error saying how to init), then rebuilds routes
  // from state.
  static Result<std::unique_ptr<StateStore>> open(const std::string& data_dir,
                                                  StoreOptions options = {});
  ~StateStore();

  // ---- users ----
  // Sign-up: a new user with role user, active or not by the registration mode (an
  // invitation, single use, makes it active in every mode; closed mode needs one). At most
  // signups_per_source per window from one source address (throttled, 429).
  Result<User> signup(const std::string& username, const std::string& password,
                      const std::string& source, const std::string& invitation = {});
  // Admin only: a user with the given role, active or not.
  Result<User> users_add(const Caller& caller, const std::string& username,
                         const std::string& password, Role role, bool active);
  Result<User> users_approve(const Caller& caller, const std::string& username);  // admin only
  // Admin only, not oneself: the user can no longer log in, its tokens are revoked in the
  // same transaction, and sshd stops accepting its homes' keys (authorized_keys_line needs an
  // active owner), and `sessions reap` cuts their open SSH sessions. Its homes, mappings and
  // routes stay (approve reactivates).
  Result<User> users_deactivate(const Caller& caller, const std::string& username);
  Result<std::vector<User>> users_list(const Caller& caller);  // admin only
  // Admin only: the account expires at expires_at (unix seconds; 0: never). From that second
  // its password and tokens are refused, its homes' keys refused and their SSH sessions cut
  // (`sessions reap`); maintain() then revokes its tokens, deactivates it, takes its homes'
  // routes out of the table and audits "users.expire". A later time (or 0) on an expired
  // account lifts the expiry and brings the routes back; the account stays inactive until
  // approved.
  Result<User> users_set_expiry(const Caller& caller, const std::string& username,
                                int64_t expires_at);

  // ---- authentication ----
  // Checks the password of an active user. Refused (unauthorized, one message for every
  // reason) for a wrong password, an unknown or inactive user; throttled while either the
  // user or the source has too many recent failures. Failures are audited.
  Result<Caller> authenticate(const std::string& username, const std::string& password,
                              const std::string& source);
  Result<IssuedToken> issue_token(const Caller& identity);
  // authenticate, then issue_token.
  Result<IssuedToken> login(const std::string& username, const std::string& password,
                            const std::string& source);
  // The identity behind a bearer token (source left empty for the front end to fill in);
  // unauthorized when unknown, expired or revoked, or when its user is no longer active.
  Result<Caller> check_token(std::string_view token);
  // Logout: revokes this token. Revoking an unknown token is not an error.
  Result<void> revoke_token(const Caller& caller, std::string_view token);
  // Revokes every token of username (admin, or the user itself); returns how many.
  Result<size_t> revoke_user_tokens(const Caller& caller, const std::string& username);

  // ---- homes ----
  // public_key: one OpenSSH public key line. Allocates the first free port block. The home
  // belongs to the caller, or to owner (an existing user) when an admin names one.
  Result<Home> homes_create(const Caller& caller, const std::string& name,
                            const std::string& public_key, const std::string& owner = {});
  Result<std::vector<Home>> homes_list(const Caller& caller);
  Result<Home> homes_get(const Caller& caller, const std::string& id);
  // Deletes the home, its mappings and their routes. Its port block is quarantined: it goes
  // to another home only once nothing listens on its ports (the reaper cuts the deleted
  // home's SSH sessions) and port_quarantine_seconds have passed.
  Result<void> homes_delete(const Caller& caller, const std::string& id);
  // Port blocks still quarantined (admin only), by first port.
  Result<std::vector<QuarantinedBlock>> quarantine_list(const Caller& caller);
  Result<Home> homes_rotate_key(const Caller& caller, const std::string& id,
                                const std::string& public_key);
  // Admin only: the home expires at expires_at (0: never). From that second its key is
  // refused and its sessions cut; maintain() takes its routes out of the table and audits
  // "homes.expire" (the home and its ports stay its own). A later time (or 0) lifts it.
  Result<Home> homes_set_expiry(const Caller& caller, const std::string& id, int64_t expires_at);

  // ---- mappings ----
  // conflict when the hostname is mapped anywhere or is a system route; forbidden when a port is
  // not the home's.
  Result<Mapping> mappings_create(const Caller& caller, const std::string& home_id,
                                  const Mapping& mapping);
  Result<Mapping> mappings_update(const Caller& caller, const std::string& home_id,
                                  const std::string& hostname, const MappingPatch& patch);
  Result<Mapping> mappings_get(const Caller& caller, const std::string& home_id,
                               const std::string& hostname);
  Result<std::vector<Mapping>> mappings_list(const Caller& caller, const std::string& home_id);
  Result<void> mappings_delete(const Caller& caller, const std::string& home_id,
                               const std::string& hostname);

  // ---- system routes (control's own hostnames) ----
  // Replaces the set of system routes with routes and projects the change: a hostname no
  // longer in the set loses its route. Admin only; conflict when a home maps one of the
  // hostnames (that mapping must go first), invalid for a bad hostname or a missing target.
  Result<void> system_routes_set(const Caller& caller, const std::vector<SystemRoute>& routes);
  // Sorted by hostname.
  Result<std::vector<SystemRoute>> system_routes_list();

  // ---- routes projection, audit ----
  // Rebuilds DATA/routes from state in one transaction (admin only); returns the route count.
  Result<size_t> sync_routes(const Caller& caller);
  // The routes environment as the dataplane reads it now, sorted by hostname (admin only).
  Result<std::vector<std::pair<std::string, Route>>> routes_list(const Caller& caller);
  // The routes as state says they should be (what sync_routes writes), sorted by hostname.
  Result<std::vector<std::pair<std::string, Route>>> expected_routes();
  // Newest first, at most limit records with seq < before (0: from the newest). Admin only.
  Result<std::vector<AuditRecord>> audit_list(const Caller& caller, size_t limit = 100,
                                              uint64_t before = 0);

  // ---- invitations (admin only) ----
  // A new invitation code, valid for ttl_seconds.
  Result<IssuedInvitation> invitations_create(const Caller& caller,
                                              int64_t ttl_seconds = kDefaultInvitationSeconds);
  // Unused, unexpired invitations (expired ones are dropped on the way).
  Result<std::vector<Invitation>> invitations_list(const Caller& caller);
  Result<void> invitations_delete(const Caller& caller, const std::string& id);

  // ---- quotas ----
  // A user's quota (the user itself, or an admin).
  Result<QuotaView> quota_get(const Caller& caller, const std::string& username);
  // Admin only: sets the user's own values; unset fields follow the default again.
  Result<QuotaView> quota_set(const Caller& caller, const std::string& username,
                              const QuotaOverride& own);
  RegistrationMode registration_mode() const;

  // ---- upkeep ----
  struct StorageUsage {
    MapUsage state;
    MapUsage routes;
    uint64_t audit_records = 0;
    bool routes_in_step = true;  // false while a failed projection waits for its re-sync
  };
  Result<StorageUsage> storage_usage();
  // What serve runs every few seconds: audit records beyond the retention are pruned (a
  // bounded number of batches per call), users and homes whose expiry came are expired,
  // quarantined port blocks nothing listens on any more are released, and the routes are rebuilt
  // when a projection failed after its state change committed. Returns the audit records pruned.
  Result<size_t> maintain();

 private:
  struct Impl;
  explicit StateStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Read-only lookup for sshd's AuthorizedKeysCommand: the authorized_keys line for a key of a
// home whose owner is active, when user is ssh_user; nullopt for any other user or key, and
// when DATA/state does not exist yet. Opens the environment read-only and never writes, so it
// never waits for a writer.
Result<std::optional<std::string>> authorized_keys_line(const std::string& data_dir,
                                                        const std::string& user,
                                                        const std::string& key_type,
                                                        const std::string& key_base64,
                                                        const std::string& ssh_user = "cloudlink");

// Read-only, for `sessions reap`: the ports and keys of every home that may log in now (not
// expired, its owner active and not expired). ENOENT when DATA/state does not exist (a reaper
// with a wrong --data ends nothing). Never writes, never waits.
Result<SessionPolicy> session_policy(const std::string& data_dir);

// The route a mapping projects to: 127.0.0.1:P for each TLS port, 127.0.0.1:http_port, PROXY v2.
Result<Route> route_for(const Mapping& mapping);
// The route a system route projects to: its targets as given, no PROXY header.
Result<Route> route_for(const SystemRoute& route);

}  // namespace cloudlink::state
