#include "control/state/state_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>

#include "common/hostname.h"
#include "common/log.h"
#include "common/route_table.h"
#include "control/sessions/proc_scan.h"
#include "control/state/data_folder.h"
#include "control/state/lmdb.h"
#include "control/state/password_gate.h"
#include "control/state/records.h"
#include "control/state/throttle.h"
#include "control/state/usernames.h"

namespace cloudlink::state {
namespace {

// The state holds password hashes: owner and group only (sshd's AuthorizedKeysCommandUser
// reads it through the group).
constexpr mdb_mode_t kStateFileMode = 0660;
constexpr unsigned kMaxDbs = 16;
constexpr size_t kMaxHomeName = 64;
constexpr size_t kMaxSlug = 32;

int64_t system_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The databases of the state environment.
struct Dbs {
  MDB_dbi users = 0;       // username -> UserRecord
  MDB_dbi tokens = 0;      // token digest (hex) -> TokenRecord
  MDB_dbi homes = 0;       // home id -> Home
  MDB_dbi slugs = 0;       // slug -> home id
  MDB_dbi keys = 0;        // key base64 -> home id
  MDB_dbi ports = 0;       // be16(first port) -> PortBlockRecord
  MDB_dbi mappings = 0;    // hostname -> Mapping
  MDB_dbi home_hosts = 0;  // home id '\0' hostname -> "" (a home's mappings, in order)
  MDB_dbi audit = 0;       // be64(seq) -> AuditRecord
  // hostname -> SystemRoute. Opened by the writable store only, so a read-only open of a
  // state written before system routes existed (authorized-keys) does not need it.
  MDB_dbi system_routes = 0;
  // Likewise opened by the writable store only.
  MDB_dbi invitations = 0;  // token digest (hex) -> Invitation
  MDB_dbi quotas = 0;       // username -> QuotaOverride
};

Result<Dbs> open_dbs(Env& env) {
  Dbs dbs;
  const std::pair<const char*, MDB_dbi*> all[] = {
      {"users", &dbs.users},       {"tokens", &dbs.tokens},
      {"homes", &dbs.homes},       {"slugs", &dbs.slugs},
      {"keys", &dbs.keys},         {"ports", &dbs.ports},
      {"mappings", &dbs.mappings}, {"home_hosts", &dbs.home_hosts},
      {"audit", &dbs.audit}};
  for (const auto& [name, dbi] : all) {
    auto opened = env.open_db(name);
    if (!opened) return opened.error();
    *dbi = opened.value();
  }
  return dbs;
}

Result<void> validate_home_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxHomeName) {
    return invalid_field("name", "must be 1 to 64 bytes");
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return invalid_field("name", "must not hold control characters");
  }
  return ok();
}

std::string slug_base(const std::string& name) {
  std::string slug;
  for (unsigned char c : name) {
    if (slug.size() == kMaxSlug) break;
    if (std::isalnum(c) != 0 && c < 0x80) {
      slug += static_cast<char>(std::tolower(c));
    } else if (!slug.empty() && slug.back() != '-') {
      slug += '-';
    }
  }
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  return slug.empty() ? "home" : slug;
}

std::string lower_ascii(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

std::string home_host_key(const std::string& home_id, const std::string& hostname) {
  return home_id + '\0' + hostname;
}

Error admin_only(const char* what) { return forbidden(std::string(what) + " needs an admin"); }

}  // namespace

const char* role_name(Role role) { return role == Role::kAdmin ? "admin" : "user"; }

Result<ProxyProtocol> parse_proxy_protocol(std::string_view text) {
  if (text.empty() || text == "none") return ProxyProtocol::kNone;
  if (text == "v2") return ProxyProtocol::kV2;
  return invalid_field("proxy_protocol", "must be \"none\" or \"v2\"");
}

const char* proxy_protocol_name(ProxyProtocol p) { return p == ProxyProtocol::kV2 ? "v2" : "none"; }

std::vector<uint16_t> Home::ports() const {
  std::vector<uint16_t> out;
  for (uint32_t p = port_first; p < uint32_t{port_first} + port_count; ++p) {
    out.push_back(static_cast<uint16_t>(p));
  }
  return out;
}

Result<Route> route_for(const Mapping& mapping) {
  std::vector<SocketAddress> targets;
  for (uint16_t port : mapping.tls_ports) {
    targets.push_back(SocketAddress::parse("127.0.0.1:" + std::to_string(port)).value());
  }
  SocketAddress http;
  if (mapping.http_port) {
    http = SocketAddress::parse("127.0.0.1:" + std::to_string(*mapping.http_port)).value();
  }
  uint32_t flags = mapping.proxy_protocol == ProxyProtocol::kV2 ? uint32_t{kRouteProxyV2} : 0u;
  return make_route(mapping.home_id, flags, targets, http);
}

Result<Route> route_for(const SystemRoute& route) {
  const uint32_t flags = route.proxy_v2 ? uint32_t{kRouteProxyV2} : 0u;
  return make_route(route.owner, flags, std::span(&route.tls_target, 1), route.http_target);
}

// ---------------------------------------------------------------------------------------------

struct StateStore::Impl {
  Impl(Env e, Dbs d, RouteTable r, StoreOptions o, std::shared_ptr<const HostnamePolicy> h)
      : env(std::move(e)),
        dbs(d),
        routes(std::move(r)),
        options(std::move(o)),
        hostnames(std::move(h)),
        password_gate(options.concurrent_password_hashes, 8 * options.concurrent_password_hashes,
                      std::chrono::seconds(5)),
        signup_limit(options.signups_per_source, options.signup_window_seconds),
        user_throttle(options.login_free_failures_per_user, options.login_delay_base_seconds,
                      options.login_delay_max_seconds, options.login_window_seconds),
        source_throttle(options.login_free_failures_per_source, options.login_delay_base_seconds,
                        options.login_delay_max_seconds, options.login_window_seconds) {}

  Env env;
  Dbs dbs;
  RouteTable routes;
  StoreOptions options;
  std::shared_ptr<const HostnamePolicy> hostnames;
  PasswordGate password_gate;
  RateLimit signup_limit;
  LoginThrottle user_throttle;
  LoginThrottle source_throttle;
  // A hash to verify against when the user does not exist, so an unknown name costs as much
  // time as a wrong password.
  std::once_flag dummy_once;
  std::string dummy_hash;
  std::atomic<bool> routes_dirty{false};

  int64_t now() const { return options.now ? options.now() : system_now(); }

  // Runs body in one write txn and commits (again from the start after the map grew).
  template <typename T, typename F>
  Result<T> write(F&& body) {
    return env.write<T>(std::forward<F>(body));
  }

  Result<void> audit(Txn& txn, const Caller& caller, std::string action, std::string target,
                     std::string detail = {}) {
    auto pruned =
        prune_audit(txn, dbs.audit, options.audit_retention, now(), AuditRetention::kInlineBatch);
    if (!pruned) return pruned.error();
    auto last = txn.last(dbs.audit);
    if (!last) return last.error();
    uint64_t seq = last.value() ? from_be64_key(last.value()->first) + 1 : 1;
    AuditRecord r{seq,
                  now(),
                  caller.username,
                  caller.source,
                  std::move(action),
                  std::move(target),
                  std::move(detail)};
    return txn.put(dbs.audit, be64_key(seq), encode(r));
  }

  Result<std::optional<UserRecord>> get_user(const Txn& txn, const std::string& name) {
    auto raw = txn.get(dbs.users, name);
    if (!raw) return raw.error();
    if (!raw.value()) return std::optional<UserRecord>();
    auto user = decode_user(name, **raw);
    if (!user) return user.error();
    return std::optional<UserRecord>(std::move(user.value()));
  }

  // The home, when it exists and the caller may see it; not_found otherwise.
  Result<Home> visible_home(const Txn& txn, const Caller& caller, const std::string& id) {
    auto raw = txn.get(dbs.homes, id);
    if (!raw) return raw.error();
    if (raw.value()) {
      auto home = decode_home(id, **raw);
      if (!home) return home.error();
      if (caller.is_admin() || home->owner == caller.username) return home;
    }
    return not_found("home " + id + " not found");
  }

  Result<Mapping> visible_mapping(const Txn& txn, const Caller& caller, const std::string& home_id,
                                  const std::string& hostname) {
    auto home = visible_home(txn, caller, home_id);
    if (!home) return home.error();
    std::string host = lower_ascii(hostname);
    auto raw = txn.get(dbs.mappings, host);
    if (!raw) return raw.error();
    if (raw.value()) {
      auto mapping = decode_mapping(host, **raw);
      if (!mapping) return mapping.error();
      if (mapping->home_id == home_id) return mapping;
    }
    return not_found("mapping " + host + " not found in home " + home_id);
  }

  Result<std::vector<std::string>> home_hostnames(const Txn& txn, const std::string& home_id) {
    std::vector<std::string> hosts;
    std::string prefix = home_id + '\0';
    auto scanned = txn.scan(dbs.home_hosts, prefix, [&](std::string_view k, std::string_view) {
      if (k.substr(0, prefix.size()) != prefix) return false;
      hosts.emplace_back(k.substr(prefix.size()));
      return true;
    });
    if (!scanned) return scanned.error();
    return hosts;
  }

  // First gap of options.port_block ports in the range that no block overlaps.
  Result<uint16_t> allocate_ports(const Txn& txn) {
    uint32_t block = options.port_block;
    uint32_t candidate = options.port_first;
    auto scanned = txn.scan(dbs.ports, {}, [&](std::string_view k, std::string_view v) {
      uint32_t first = from_be16_key(k);
      auto record = decode_port_block(v);
      uint32_t count = record ? record->count : 1;
      if (candidate + block <= first) return false;  // the gap before this block fits
      candidate = std::max(candidate, first + count);
      return true;
    });
    if (!scanned) return scanned.error();
    if (block == 0 || candidate + block - 1 > options.port_last) {
      return conflict("no free block of " + std::to_string(block) + " tunnel ports is left in " +
                      std::to_string(options.port_first) + "-" + std::to_string(options.port_last));
    }
    return static_cast<uint16_t>(candidate);
  }

  // Checks a mapping's fields against its home (everything but hostname uniqueness).
  Result<void> check_mapping(const Mapping& m, const Home& home) {
    if (m.tls_ports.empty() || m.tls_ports.size() > kMaxRouteTargets) {
      return invalid_field("tls_ports",
                           "must list 1 to " + std::to_string(kMaxRouteTargets) + " ports");
    }
    std::set<uint16_t> seen;
    for (uint16_t port : m.tls_ports) {
      if (!seen.insert(port).second) {
        return invalid_field("tls_ports", "port " + std::to_string(port) + " is listed twice");
      }
      if (!home.owns_port(port)) {
        return forbidden("tls_ports: port " + std::to_string(port) + " is not a port of home " +
                         home.id);
      }
    }
    if (m.http_port && !home.owns_port(*m.http_port)) {
      return forbidden("http_port: port " + std::to_string(*m.http_port) +
                       " is not a port of home " + home.id);
    }
    return ok();
  }

  // Whether a mapping's home projects routes: not when the home or its owner has expired
  // (the persisted flags, so a sync gives the same table whenever it runs).
  Result<bool> projects(const Txn& txn, const std::string& home_id) {
    auto raw = txn.get(dbs.homes, home_id);
    if (!raw) return raw.error();
    if (!raw.value()) return true;  // a dangling mapping is projected as before
    auto home = decode_home(home_id, **raw);
    if (!home) return home.error();
    if (home->expired) return false;
    auto owner = get_user(txn, home->owner);
    if (!owner) return owner.error();
    return !(owner.value() && owner.value()->user.expired);
  }

  Result<std::vector<std::pair<std::string, Route>>> all_routes(const Txn& txn) {
    std::vector<std::pair<std::string, Route>> out;
    std::optional<Error> failed;
    std::map<std::string, bool> live;  // home id -> projects
    auto scanned = txn.scan(dbs.mappings, {}, [&](std::string_view k, std::string_view v) {
      auto mapping = decode_mapping(k, v);
      if (mapping) {
        auto known = live.find(mapping->home_id);
        if (known == live.end()) {
          auto p = projects(txn, mapping->home_id);
          if (!p) {
            failed = p.error();
            return false;
          }
          known = live.emplace(mapping->home_id, *p).first;
        }
        if (!known->second) return true;
      }
      auto route = mapping ? route_for(*mapping) : Result<Route>(mapping.error());
      if (!route) {
        failed = route.error();
        return false;
      }
      out.emplace_back(std::string(k), route.value());
      return true;
    });
    if (!scanned) return scanned.error();
    if (failed) return *failed;
    auto system = system_routes(txn);
    if (!system) return system.error();
    for (const SystemRoute& r : system.value()) {
      auto route = route_for(r);
      if (!route) return route.error();
      out.emplace_back(r.hostname, route.value());
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return out;
  }

  // Deletes every token of username; returns how many.
  Result<size_t> delete_tokens_of(Txn& txn, const std::string& username) {
    std::vector<std::string> keys;
    auto scanned = txn.scan(dbs.tokens, {}, [&](std::string_view k, std::string_view v) {
      auto t = decode_token(v);
      if (t && t->username == username) keys.emplace_back(k);
      return true;
    });
    if (!scanned) return scanned.error();
    for (const std::string& key : keys) {
      if (auto d = txn.del(dbs.tokens, key); !d) return d.error();
    }
    return keys.size();
  }

  Result<std::vector<SystemRoute>> system_routes(const Txn& txn) {
    std::vector<SystemRoute> out;
    std::optional<Error> failed;
    auto scanned = txn.scan(dbs.system_routes, {}, [&](std::string_view k, std::string_view v) {
      auto r = decode_system_route(k, v);
      if (!r) {
        failed = r.error();
        return false;
      }
      out.push_back(std::move(r.value()));
      return true;
    });
    if (!scanned) return scanned.error();
    if (failed) return *failed;
    return out;
  }

  // The route state says host should have: a system route first, else a mapping's.
  Result<std::optional<Route>> route_of(const Txn& txn, const std::string& host) {
    auto system = txn.get(dbs.system_routes, host);
    if (!system) return system.error();
    if (system.value()) {
      auto r = decode_system_route(host, **system);
      if (!r) return r.error();
      auto route = route_for(*r);
      if (!route) return route.error();
      return std::optional<Route>(route.value());
    }
    auto raw = txn.get(dbs.mappings, host);
    if (!raw) return raw.error();
    if (!raw.value()) return std::optional<Route>();
    auto mapping = decode_mapping(host, **raw);
    if (!mapping) return mapping.error();
    auto live = projects(txn, mapping->home_id);
    if (!live) return live.error();
    if (!*live) return std::optional<Route>();
    auto route = route_for(*mapping);
    if (!route) return route.error();
    return std::optional<Route>(route.value());
  }

  // Rewrites the routes of hosts from the newest state, inside the routes writer lock. The
  // state change has committed by now: when the routes cannot follow (a full disk, say; a
  // full map has grown already), the whole table is rebuilt, and while that fails too the
  // routes stay marked out of step for maintain() (and the next change) to rebuild.
  Result<void> project(const std::vector<std::string>& hosts) {
    if (hosts.empty()) return ok();
    if (routes_dirty.load()) return resync();
    auto written = project_hosts(hosts);
    if (written) return ok();
    log_warn("state: projecting %zu route(s) failed: %s; rebuilding the route table", hosts.size(),
             written.error().message().c_str());
    return resync();
  }

  Result<void> resync() {
    auto synced = sync();
    routes_dirty.store(!synced.ok());
    if (synced) return ok();
    return Error(synced.error().code(),
                 "the change is saved, but the route table could not follow (it is rebuilt "
                 "until it does): " +
                     synced.error().context());
  }

  Result<void> project_hosts(const std::vector<std::string>& hosts) {
    return routes.write([&]() -> Result<RouteTable::Batch> {
      auto txn = env.begin(false);
      if (!txn) return txn.error();
      RouteTable::Batch batch;
      for (const std::string& host : hosts) {
        auto route = route_of(*txn, host);
        if (!route) return route.error();
        if (route.value()) {
          batch.puts.emplace_back(host, **route);
        } else {
          batch.removes.push_back(host);
        }
      }
      return batch;
    });
  }

  Result<size_t> sync() {
    size_t count = 0;
    auto written = routes.write([&]() -> Result<RouteTable::Batch> {
      auto txn = env.begin(false);
      if (!txn) return txn.error();
      auto all = all_routes(*txn);
      if (!all) return all.error();
      count = all->size();
      return RouteTable::Batch{true, std::move(all.value()), {}};
    });
    if (!written) return written.error();
    return count;
  }

  // An Argon2id hash, within the bound on concurrent hashing.
  Result<std::string> hash(const std::string& password) {
    auto slot = password_gate.acquire();
    if (!slot) return slot.error();
    return hash_password(password, options.password_cost);
  }

  // Consumes an invitation code: its id, or forbidden when it is unknown, used or expired.
  Result<std::string> use_invitation(Txn& txn, const std::string& code) {
    std::string digest = token_digest(code);
    auto raw = txn.get(dbs.invitations, digest);
    if (!raw) return raw.error();
    if (!raw.value()) return forbidden("invitation: unknown or already used");
    auto invitation = decode_invitation(**raw);
    if (!invitation) return invitation.error();
    if (auto d = txn.del(dbs.invitations, digest); !d) return d.error();
    if (invitation->expires_at <= now()) return forbidden("invitation: expired");
    return invitation->id;
  }

  Result<QuotaOverride> own_quota(const Txn& txn, const std::string& username) {
    auto raw = txn.get(dbs.quotas, username);
    if (!raw) return raw.error();
    if (!raw.value()) return QuotaOverride{};
    return decode_quota(**raw);
  }

  Result<QuotaView> quota_view(const Txn& txn, const std::string& username) {
    auto own = own_quota(txn, username);
    if (!own) return own.error();
    auto used = count_usage(txn, dbs.homes, dbs.home_hosts, dbs.ports, username);
    if (!used) return used.error();
    return QuotaView{username, effective_quota(options.default_quota, *own), *used, *own};
  }

  // Refuses what would take owner past a quota: adding `homes` homes (each with a port
  // block) and `mappings` mappings. Only a user acting for itself is held to its quota.
  Result<void> check_quota(const Txn& txn, const Caller& caller, const std::string& owner,
                           uint32_t homes, uint32_t mappings) {
    if (caller.is_admin()) return ok();
    auto view = quota_view(txn, owner);
    if (!view) return view.error();
    const Quota& limit = view->limits;
    if (homes > 0 && view->used.homes + homes > limit.homes) {
      return quota_reached("homes", limit.homes, owner);
    }
    if (homes > 0 && view->used.port_blocks + homes > limit.port_blocks) {
      return quota_reached("port_blocks", limit.port_blocks, owner);
    }
    if (mappings > 0 && view->used.mappings + mappings > limit.mappings) {
      return quota_reached("mappings", limit.mappings, owner);
    }
    return ok();
  }

  // Releases the quarantined port blocks nothing listens on any more (after the minimum
  // quarantine); returns how many. The listener probe failing keeps every block.
  Result<size_t> release_quarantined(Txn& txn) {
    std::vector<std::pair<std::string, PortBlockRecord>> held;
    auto scanned = txn.scan(dbs.ports, {}, [&](std::string_view k, std::string_view v) {
      auto record = decode_port_block(v);
      if (record && record->quarantined_at != 0) held.emplace_back(std::string(k), *record);
      return true;
    });
    if (!scanned) return scanned.error();
    if (held.empty()) return size_t{0};
    auto listening =
        options.listening_ports ? options.listening_ports() : sessions::listening_ports();
    if (!listening) {
      log_warn("state: cannot see the listening ports (%s); port blocks stay quarantined",
               listening.error().message().c_str());
      return size_t{0};
    }
    size_t released = 0;
    for (const auto& [key, block] : held) {
      const uint32_t first = from_be16_key(key);
      if (block.quarantined_at + options.port_quarantine_seconds > now()) continue;
      auto busy = listening->lower_bound(static_cast<uint16_t>(first));
      if (busy != listening->end() && *busy < first + block.count) continue;
      if (auto d = txn.del(dbs.ports, key); !d) return d.error();
      auto a = audit(txn, Caller{"control", Role::kAdmin, "local"}, "ports.release",
                     std::to_string(first) + "+" + std::to_string(block.count),
                     "home=" + block.home_id + " quarantined " +
                         std::to_string(now() - block.quarantined_at) + " s");
      if (!a) return a.error();
      ++released;
    }
    return released;
  }

  // Carries out every expiry that has come: a user is deactivated, its tokens revoked and its
  // homes' routes withdrawn; a home's routes are withdrawn. Returns the hostnames to project.
  Result<std::vector<std::string>> expire_due(Txn& txn) {
    const int64_t t = now();
    std::vector<UserRecord> users;
    std::vector<Home> homes;
    std::optional<Error> failed;
    auto scanned = txn.scan(dbs.users, {}, [&](std::string_view k, std::string_view v) {
      auto r = decode_user(k, v);
      if (!r) {
        failed = r.error();
        return false;
      }
      if (!r->user.expired && lapsed(r->user.expires_at, false, t)) users.push_back(*r);
      return true;
    });
    if (!scanned) return scanned.error();
    if (failed) return *failed;
    std::vector<Home> all_homes;
    scanned = txn.scan(dbs.homes, {}, [&](std::string_view k, std::string_view v) {
      auto h = decode_home(k, v);
      if (!h) {
        failed = h.error();
        return false;
      }
      all_homes.push_back(*h);
      return true;
    });
    if (!scanned) return scanned.error();
    if (failed) return *failed;
    const Caller expiry{"control", Role::kAdmin, "local"};
    std::vector<std::string> hosts;
    for (UserRecord& r : users) {
      r.user.expired = true;
      r.user.active = false;
      if (auto p = txn.put(dbs.users, r.user.username, encode(r)); !p) return p.error();
      auto revoked = delete_tokens_of(txn, r.user.username);
      if (!revoked) return revoked.error();
      size_t routes = 0;
      size_t owned = 0;
      for (const Home& home : all_homes) {
        if (home.owner != r.user.username) continue;
        ++owned;
        auto own = home_hostnames(txn, home.id);
        if (!own) return own.error();
        routes += own->size();
        hosts.insert(hosts.end(), own->begin(), own->end());
      }
      auto a = audit(txn, expiry, "users.expire", r.user.username,
                     "expires_at=" + std::to_string(r.user.expires_at) + " tokens_revoked=" +
                         std::to_string(*revoked) + " homes=" + std::to_string(owned) +
                         " routes_withdrawn=" + std::to_string(routes) + " sessions=cut");
      if (!a) return a.error();
    }
    for (Home& home : all_homes) {
      if (home.expired || !lapsed(home.expires_at, false, t)) continue;
      home.expired = true;
      if (auto p = txn.put(dbs.homes, home.id, encode(home)); !p) return p.error();
      auto own = home_hostnames(txn, home.id);
      if (!own) return own.error();
      hosts.insert(hosts.end(), own->begin(), own->end());
      auto a = audit(txn, expiry, "homes.expire", home.id,
                     "owner=" + home.owner + " expires_at=" + std::to_string(home.expires_at) +
                         " routes_withdrawn=" + std::to_string(own->size()) + " sessions=cut");
      if (!a) return a.error();
    }
    return hosts;
  }

  const std::string& dummy() {
    std::call_once(dummy_once, [&] {
      auto hash = hash_password(random_token(), options.password_cost);
      dummy_hash = hash ? hash.value() : std::string();
    });
    return dummy_hash;
  }
};

StateStore::StateStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StateStore::~StateStore() = default;

Result<std::unique_ptr<StateStore>> StateStore::open(const std::string& data_dir,
                                                     StoreOptions options) {
  if (!crypto_init()) return Error(EIO, "state: libsodium could not be initialised");
  if (options.port_block == 0 || options.port_first == 0 ||
      options.port_last < options.port_first) {
    return invalid("state: the tunnel port range or block size is empty");
  }
  if (!options.create) {
    if (auto initialised = require_initialised(data_dir); !initialised) {
      return initialised.error();
    }
  }
  auto env = Env::open(data_dir + "/state", true, kMaxDbs, kStateFileMode, options.map);
  if (!env) return env.error();
  auto dbs = open_dbs(env.value());
  if (!dbs) return dbs.error();
  auto system = env->open_db("system_routes");
  if (!system) return system.error();
  dbs->system_routes = system.value();
  for (auto [name, dbi] : {std::pair{"invitations", &dbs->invitations}, {"quotas", &dbs->quotas}}) {
    auto opened = env->open_db(name);
    if (!opened) return opened.error();
    *dbi = opened.value();
  }
  auto hostnames = HostnamePolicy::make(options.hostname_policy);
  if (!hostnames) return hostnames.error();
  auto routes = RouteTable::open_writable(data_dir, options.map);
  if (!routes) return routes.error();
  auto impl = std::make_unique<Impl>(std::move(env.value()), dbs.value(), std::move(routes.value()),
                                     std::move(options), std::move(hostnames.value()));
  // Routes are a projection: rebuild them, repairing a crash between a state and a routes commit.
  if (auto synced = impl->sync(); !synced) return synced.error();
  return std::unique_ptr<StateStore>(new StateStore(std::move(impl)));
}

// ---- users ----

Result<User> StateStore::signup(const std::string& username, const std::string& password,
                                const std::string& source, const std::string& invitation) {
  Caller self{username, Role::kUser, source};
  if (auto valid = validate_username(username); !valid) return valid.error();
  if (auto valid = validate_password(password); !valid) return valid.error();
  if (invitation.size() > kMaxInvitationCode) return invalid_field("invitation", "is too long");
  const RegistrationMode mode = impl_->options.registration;
  if (mode == RegistrationMode::kClosed && invitation.empty()) {
    return forbidden("invitation: registration is closed; sign-up needs an invitation");
  }
  // Counted before the costly hash, whatever comes of the attempt.
  if (int64_t wait = impl_->signup_limit.acquire(source, impl_->now()); wait > 0) {
    return retry_later(StateErrc::kThrottled, "too many sign-ups from " + source, wait);
  }
  auto hash = impl_->hash(password);
  if (!hash) return hash.error();
  bool active = mode == RegistrationMode::kOpen || !invitation.empty();
  UserRecord record{User{username, Role::kUser, active, impl_->now()}, hash.value()};
  return impl_->write<User>([&](Txn& txn) -> Result<User> {
    std::string detail = std::string("mode=") + registration_mode_name(mode);
    if (!invitation.empty()) {
      auto used = impl_->use_invitation(txn, invitation);
      if (!used) return used.error();
      detail += " invitation=" + used.value();
    }
    auto inserted = txn.insert(impl_->dbs.users, username, encode(record));
    if (!inserted) return inserted.error();
    if (!inserted.value()) return conflict("username: " + username + " is taken");
    if (auto a = impl_->audit(txn, self, "users.signup", username, detail); !a) return a.error();
    return record.user;
  });
}

Result<User> StateStore::users_add(const Caller& caller, const std::string& username,
                                   const std::string& password, Role role, bool active) {
  if (!caller.is_admin()) return admin_only("adding a user");
  if (auto valid = validate_username(username); !valid) return valid.error();
  if (auto valid = validate_password(password); !valid) return valid.error();
  auto hash = impl_->hash(password);
  if (!hash) return hash.error();
  UserRecord record{User{username, role, active, impl_->now()}, hash.value()};
  return impl_->write<User>([&](Txn& txn) -> Result<User> {
    auto inserted = txn.insert(impl_->dbs.users, username, encode(record));
    if (!inserted) return inserted.error();
    if (!inserted.value()) return conflict("username: " + username + " is taken");
    std::string detail = std::string("role=") + role_name(role) + (active ? " active" : "");
    if (auto a = impl_->audit(txn, caller, "users.add", username, detail); !a) return a.error();
    return record.user;
  });
}

Result<User> StateStore::users_approve(const Caller& caller, const std::string& username) {
  if (!caller.is_admin()) return admin_only("approving a user");
  return impl_->write<User>([&](Txn& txn) -> Result<User> {
    auto record = impl_->get_user(txn, username);
    if (!record) return record.error();
    if (!record.value()) return not_found("user " + username + " not found");
    UserRecord& r = **record;
    if (r.user.active) return r.user;  // approving twice is harmless
    r.user.active = true;
    if (auto put = txn.put(impl_->dbs.users, username, encode(r)); !put) return put.error();
    if (auto a = impl_->audit(txn, caller, "users.approve", username); !a) return a.error();
    return r.user;
  });
}

Result<User> StateStore::users_deactivate(const Caller& caller, const std::string& username) {
  if (!caller.is_admin()) return admin_only("deactivating a user");
  if (username == caller.username) return forbidden("an admin cannot deactivate itself");
  return impl_->write<User>([&](Txn& txn) -> Result<User> {
    auto record = impl_->get_user(txn, username);
    if (!record) return record.error();
    if (!record.value()) return not_found("user " + username + " not found");
    UserRecord& r = **record;
    r.user.active = false;
    if (auto put = txn.put(impl_->dbs.users, username, encode(r)); !put) return put.error();
    auto revoked = impl_->delete_tokens_of(txn, username);
    if (!revoked) return revoked.error();
    if (auto a = impl_->audit(txn, caller, "users.deactivate", username,
                              std::to_string(*revoked) + " tokens revoked");
        !a) {
      return a.error();
    }
    return r.user;
  });
}

Result<std::vector<User>> StateStore::users_list(const Caller& caller) {
  if (!caller.is_admin()) return admin_only("listing users");
  auto txn = impl_->env.begin(false);
  if (!txn) return txn.error();
  std::vector<User> users;
  std::optional<Error> failed;
  auto scanned = txn->scan(impl_->dbs.users, {}, [&](std::string_view k, std::string_view v) {
    auto r = decode_user(k, v);
    if (!r) {
      failed = r.error();
      return false;
    }
    users.push_back(r->user);
    return true;
  });
  if (!scanned) return scanned.error();
  if (failed) return *failed;
  return users;
}

Result<User> StateStore::users_set_expiry(const Caller& caller, const std::string& username,
                                          int64_t expires_at) {
  if (!caller.is_admin()) return admin_only("setting an expiry");
  if (expires_at < 0) return invalid_field("expires_at", "must be unix seconds, or 0 for never");
  if (username == caller.username && expires_at != 0) {
    return forbidden("an admin cannot set its own expiry");
  }
  std::vector<std::string> hosts;
  auto written = impl_->write<User>([&](Txn& txn) -> Result<User> {
    hosts.clear();
    auto record = impl_->get_user(txn, username);
    if (!record) return record.error();
    if (!record.value()) return not_found("user " + username + " not found");
    UserRecord& r = **record;
    r.user.expires_at = expires_at;
    const bool lifted = r.user.expired && !lapsed(expires_at, false, impl_->now());
    if (lifted) {
      r.user.expired = false;
      auto homes = txn.scan(impl_->dbs.homes, {}, [&](std::string_view k, std::string_view v) {
        auto home = decode_home(k, v);
        if (home && home->owner == username) {
          auto own = impl_->home_hostnames(txn, home->id);
          if (own) hosts.insert(hosts.end(), own->begin(), own->end());
        }
        return true;
      });
      if (!homes) return homes.error();
    }
    if (auto put = txn.put(impl_->dbs.users, username, encode(r)); !put) return put.error();
    auto a = impl_->audit(txn, caller, "users.set_expiry", username,
                          "expires_at=" + std::to_string(expires_at) + (lifted ? " lifted" : ""));
    if (!a) return a.error();
    return r.user;
  });
  if (!written) return written;
  if (auto projected = impl_->project(hosts); !projected) return projected.error();
  return written;
}

// ---- authentication ----

Result<Caller> StateStore::authenticate(const std::string& username, const std::string& password,
                                        const std::string& source) {
  int64_t now = impl_->now();
  int64_t wait = std::max(impl_->user_throttle.wait_seconds(username, now),
                          impl_->source_throttle.wait_seconds(source, now));
  if (wait > 0) return retry_later(StateErrc::kThrottled, "too many failed logins", wait);
  std::optional<UserRecord> record;
  {
    auto txn = impl_->env.begin(false);
    if (!txn) return txn.error();
    auto found = impl_->get_user(*txn, username);
    if (!found) return found.error();
    record = std::move(found.value());
  }
  bool good = false;
  {
    auto slot = impl_->password_gate.acquire();
    if (!slot) return slot.error();
    good = record ? verify_password(record->password_hash, password)
                  : (verify_password(impl_->dummy(), password), false);
  }
  const bool expired = record && lapsed(record->user.expires_at, record->user.expired, now);
  if (good && record->user.active && !expired) {
    impl_->user_throttle.reset(username);
    return Caller{username, record->user.role, source};
  }
  // An inactive user with the right password is not a guess: no throttling for it.
  if (!good) {
    impl_->user_throttle.record_failure(username, now);
    impl_->source_throttle.record_failure(source, now);
  }
  Caller who{username, Role::kUser, source};
  auto audited = impl_->write<bool>([&](Txn& txn) -> Result<bool> {
    auto a = impl_->audit(txn, who, "login.failed", username,
                          !record   ? "unknown user"
                          : !good   ? "wrong password"
                          : expired ? "expired user"
                                    : "inactive user");
    if (!a) return a.error();
    return true;
  });
  if (!audited) return audited.error();
  if (good && expired) return unauthorized("user " + username + " has expired");
  return unauthorized(good ? "user " + username + " is not approved yet"
                           : "wrong username or password");
}

Result<IssuedToken> StateStore::issue_token(const Caller& identity) {
  IssuedToken issued{random_token(), impl_->now() + impl_->options.token_ttl_seconds, identity};
  TokenRecord record{identity.username, impl_->now(), issued.expires_at};
  auto written = impl_->write<bool>([&](Txn& txn) -> Result<bool> {
    // Drop expired tokens while we hold the write lock anyway.
    std::vector<std::string> expired;
    int64_t now = impl_->now();
    auto scanned = txn.scan(impl_->dbs.tokens, {}, [&](std::string_view k, std::string_view v) {
      auto t = decode_token(v);
      if (!t || t->expires_at <= now) expired.emplace_back(k);
      return true;
    });
    if (!scanned) return scanned.error();
    for (const std::string& key : expired) {
      if (auto d = txn.del(impl_->dbs.tokens, key); !d) return d.error();
    }
    if (auto put = txn.put(impl_->dbs.tokens, token_digest(issued.token), encode(record)); !put) {
      return put.error();
    }
    if (auto a = impl_->audit(txn, identity, "login", identity.username); !a) return a.error();
    return true;
  });
  if (!written) return written.error();
  return issued;
}

Result<IssuedToken> StateStore::login(const std::string& username, const std::string& password,
                                      const std::string& source) {
  auto identity = authenticate(username, password, source);
  if (!identity) return identity.error();
  return issue_token(identity.value());
}

Result<Caller> StateStore::check_token(std::string_view token) {
  auto txn = impl_->env.begin(false);
  if (!txn) return txn.error();
  auto raw = txn->get(impl_->dbs.tokens, token_digest(token));
  if (!raw) return raw.error();
  if (!raw.value()) return unauthorized("unknown or revoked token");
  auto record = decode_token(**raw);
  if (!record) return record.error();
  if (record->expires_at <= impl_->now()) return unauthorized("token expired");
  auto user = impl_->get_user(*txn, record->username);
  if (!user) return user.error();
  if (!user.value() || !user.value()->user.active) return unauthorized("user is not active");
  const User& u = user.value()->user;
  if (lapsed(u.expires_at, u.expired, impl_->now())) return unauthorized("user has expired");
  return Caller{record->username, user.value()->user.role, {}};
}

Result<void> StateStore::revoke_token(const Caller& caller, std::string_view token) {
  auto done = impl_->write<bool>([&](Txn& txn) -> Result<bool> {
    std::string digest = token_digest(token);
    auto raw = txn.get(impl_->dbs.tokens, digest);
    if (!raw) return raw.error();
    if (!raw.value()) return false;
    auto record = decode_token(**raw);
    if (record && record->username != caller.username && !caller.is_admin()) {
      return forbidden("token: not yours to revoke");
    }
    if (auto d = txn.del(impl_->dbs.tokens, digest); !d) return d.error();
    if (auto a = impl_->audit(txn, caller, "logout", record ? record->username : ""); !a) {
      return a.error();
    }
    return true;
  });
  if (!done) return done.error();
  return ok();
}

Result<size_t> StateStore::revoke_user_tokens(const Caller& caller, const std::string& username) {
  if (!caller.is_admin() && caller.username != username) return admin_only("revoking tokens");
  return impl_->write<size_t>([&](Txn& txn) -> Result<size_t> {
    auto user = impl_->get_user(txn, username);
    if (!user) return user.error();
    if (!user.value()) return not_found("user " + username + " not found");
    auto revoked = impl_->delete_tokens_of(txn, username);
    if (!revoked) return revoked;
    auto a =
        impl_->audit(txn, caller, "tokens.revoke", username, std::to_string(*revoked) + " tokens");
    if (!a) return a.error();
    return revoked;
  });
}

// ---- homes ----

Result<Home> StateStore::homes_create(const Caller& caller, const std::string& name,
                                      const std::string& public_key, const std::string& owner) {
  if (!owner.empty() && owner != caller.username && !caller.is_admin()) {
    return admin_only("creating a home for another user");
  }
  if (auto valid = validate_home_name(name); !valid) return valid.error();
  auto key = parse_public_key_line(public_key);
  if (!key) return key.error();
  return impl_->write<Home>([&](Txn& txn) -> Result<Home> {
    Home home;
    home.id = random_hex(8);
    home.name = name;
    home.owner = owner.empty() ? caller.username : owner;
    home.key = key.value();
    if (!owner.empty()) {
      auto user = impl_->get_user(txn, owner);
      if (!user) return user.error();
      if (!user.value()) return not_found("owner: user " + owner + " not found");
    }
    home.created_at = impl_->now();
    // First, so a block whose quarantine is over counts against nobody's quota any more.
    if (auto released = impl_->release_quarantined(txn); !released) return released.error();
    if (auto quota = impl_->check_quota(txn, caller, home.owner, 1, 0); !quota) {
      return quota.error();
    }
    auto taken = txn.get(impl_->dbs.keys, home.key.base64);
    if (!taken) return taken.error();
    if (taken.value()) return conflict("public_key: this key already belongs to a home");
    auto first = impl_->allocate_ports(txn);
    if (!first) return first.error();
    home.port_first = first.value();
    home.port_count = impl_->options.port_block;
    std::string base = slug_base(name);
    for (int n = 1;; ++n) {
      home.slug = n == 1 ? base : base + "-" + std::to_string(n);
      auto inserted = txn.insert(impl_->dbs.slugs, home.slug, home.id);
      if (!inserted) return inserted.error();
      if (inserted.value()) break;
    }
    auto inserted = txn.insert(impl_->dbs.homes, home.id, encode(home));
    if (!inserted) return inserted.error();
    if (!inserted.value()) return conflict("home id collision; try again");
    if (auto p = txn.put(impl_->dbs.keys, home.key.base64, home.id); !p) return p.error();
    PortBlockRecord block{home.id, home.port_count, 0, {}, {}};
    if (auto p = txn.put(impl_->dbs.ports, be16_key(home.port_first), encode(block)); !p) {
      return p.error();
    }
    auto a = impl_->audit(txn, caller, "homes.create", home.id,
                          "name=" + name + " ports=" + std::to_string(home.port_first) + "+" +
                              std::to_string(home.port_count));
    if (!a) return a.error();
    return home;
  });
}

Result<std::vector<Home>> StateStore::homes_list(const Caller& caller) {
  auto txn = impl_->env.begin(false);
  if (!txn) return txn.error();
  std::vector<Home> homes;
  std::optional<Error> failed;
  auto scanned = txn->scan(impl_->dbs.homes, {}, [&](std::string_view k, std::string_view v) {
    auto home = decode_home(k, v);
    if (!home) {
      failed = home.error();
      return false;
    }
    if (caller.is_admin() || home->owner == caller.username) homes.push_back(home.value());
    return true;
  });
  if (!scanned) return scanned.error();
  if (failed) return *failed;
  return homes;
}

Result<Home> StateStore::homes_get(const Caller& caller, const std::string& id) {
  auto txn = impl_->env.begin(false);
  if (!txn) return txn.error();
  return impl_->visible_home(*txn, caller, id);
}

Result<void> StateStore::homes_delete(const Caller& caller, const std::string& id) {
  std::vector<std::string> hosts;
  auto deleted = impl_->write<bool>([&](Txn& txn) -> Result<bool> {
    auto home = impl_->visible_home(txn, caller, id);
    if (!home) return home.error();
    auto owned = impl_->home_hostnames(txn, id);
    if (!owned) return owned.error();
    hosts = owned.value();
    for (const std::string& host : hosts) {
      if (auto d = txn.del(impl_->dbs.mappings, host); !d) return d.error();
      if (auto d = txn.del(impl_->dbs.home_hosts, home_host_key(id, host)); !d) return d.error();
    }
    for (auto [dbi, key] : {std::pair{impl_->dbs.homes, id},
                            {impl_->dbs.slugs, home->slug},
                            {impl_->dbs.keys, home->key.base64}}) {
      if (auto d = txn.del(dbi, key); !d) return d.error();
    }
    // Its open SSH sessions may still listen on these ports until the reaper ends them.
    PortBlockRecord block{id, home->port_count, impl_->now(), home->key.base64, home->owner};
    if (auto p = txn.put(impl_->dbs.ports, be16_key(home->port_first), encode(block)); !p) {
      return p.error();
    }
    auto a = impl_->audit(txn, caller, "homes.delete", id,
                          "name=" + home->name + " mappings=" + std::to_string(hosts.size()) +
                              " ports=" + std::to_string(home->port_first) + "+" +
                              std::to_string(home->port_count) + " quarantined");
    if (!a) return a.error();
    return true;
  });
  if (!deleted) return deleted.error();
  return impl_->project(hosts);
}

Result<Home> StateStore::homes_set_expiry(const Caller& caller, const std::string& id,
                                          int64_t expires_at) {
  if (!caller.is_admin()) return admin_only("setting an expiry");
  if (expires_at < 0) return invalid_field("expires_at", "must be unix seconds, or 0 for never");
  std::vector<std::string> hosts;
  auto written = impl_->write<Home>([&](Txn& txn) -> Result<Home> {
    hosts.clear();
    auto home = impl_->visible_home(txn, caller, id);
    if (!home) return home.error();
    home->expires_at = expires_at;
    const bool lifted = home->expired && !lapsed(expires_at, false, impl_->now());
    if (lifted) {
      home->expired = false;
      auto own = impl_->home_hostnames(txn, id);
      if (!own) return own.error();
      hosts = own.value();
    }
    if (auto p = txn.put(impl_->dbs.homes, id, encode(home.value())); !p) return p.error();
    auto a = impl_->audit(txn, caller, "homes.set_expiry", id,
                          "expires_at=" + std::to_string(expires_at) + (lifted ? " lifted" : ""));
    if (!a) return a.error();
    return home;
  });
  if (!written) return written;
  if (auto projected = impl_->project(hosts); !projected) return projected.error();
  return written;
}

Result<std::vector<QuarantinedBlock>> StateStore::quarantine_list(const Caller& caller) {
  if (!caller.is_admin()) return admin_only("listing quarantined ports");
  auto txn = impl_->env.begin(false);
  if (!txn) return txn.error();
  std::vector<QuarantinedBlock> out;
  auto scanned = txn->scan(impl_->dbs.ports, {}, [&](std::string_view k, std::string_view v) {
    auto record = decode_port_block(v);
    if (record && record->quarantined_at != 0) {
      out.push_back({from_be16_key(k), record->count, record->home_id, record->quarantined_at});
    }
    return true;
  });
  if (!scanned) return scanned.error();
  return out;
}

Result<Home> StateStore::homes_rotate_key(const Caller& caller, const std::string& id,
                                          const std::string& public_key) {
  auto key = parse_public_key_line(public_key);
  if (!key) return key.error();
  return impl_->write<Home>([&](Txn& txn) -> Result<Home> {
    auto home = impl_->visible_home(txn, caller, id);
    if (!home) return home.error();
    if (home->key.base64 == key->base64) return home;
    auto taken = txn.get(impl_->dbs.keys, key->base64);
    if (!taken) return taken.error();
    if (taken.value()) return conflict("public_key: this key already belongs to a home");
    if (auto d = txn.del(impl_->dbs.keys, home->key.base64); !d) return d.error();
    home->key = key.value();
    if (auto p = txn.put(impl_->dbs.keys, home->key.base64, id); !p) return p.error();
    if (auto p = txn.put(impl_->dbs.homes, id, encode(home.value())); !p) return p.error();
    if (auto a = impl_->audit(txn, caller, "homes.rotate_key", id, home->key.type); !a) {
      return a.error();
    }
    return home;
  });
}

// ---- mappings ----

Result<Mapping> StateStore::mappings_create(const Caller& caller, const std::string& home_id,
                                            const Mapping& request) {
  Mapping m = request;
  m.hostname = lower_ascii(m.hostname);
  m.home_id = home_id;
  m.created_at = m.updated_at = impl_->now();
  auto written = impl_->write<Mapping>([&](Txn& txn) -> Result<Mapping> {
    auto home = impl_->visible_home(txn, caller, home_id);
    if (!home) return home.error();
    if (auto valid = validate_route_hostname(m.hostname); !valid) {
      return invalid_field("hostname", valid.error().context());
    }
    if (auto allowed = impl_->hostnames->check(m.hostname); !allowed) return allowed.error();
    if (auto checked = impl_->check_mapping(m, home.value()); !checked) return checked.error();
    if (auto quota = impl_->check_quota(txn, caller, home->owner, 0, 1); !quota) {
      return quota.error();
    }
    auto system = txn.get(impl_->dbs.system_routes, m.hostname);
    if (!system) return system.error();
    if (system.value()) {
      return conflict("hostname: " + m.hostname + " is reserved for cloudlink-control");
    }
    auto inserted = txn.insert(impl_->dbs.mappings, m.hostname, encode(m));
    if (!inserted) return inserted.error();
    if (!inserted.value()) return conflict("hostname: " + m.hostname + " is already mapped");
    if (auto p = txn.put(impl_->dbs.home_hosts, home_host_key(home_id, m.hostname), ""); !p) {
      return p.error();
    }
    if (auto a = impl_->audit(txn, caller, "mappings.create", m.hostname, "home=" + home_id); !a) {
      return a.error();
    }
    return m;
  });
  if (!written) return written;
  if (auto projected = impl_->project({m.hostname}); !projected) return projected.error();
  return written;
}

Result<Mapping> StateStore::mappings_update(const Caller& caller, const std::string& home_id,
                                            const std::string& hostname,
                                            const MappingPatch& patch) {
  auto written = impl_->write<Mapping>([&](Txn& txn) -> Result<Mapping> {
    auto m = impl_->visible_mapping(txn, caller, home_id, hostname);
    if (!m) return m.error();
    auto home = impl_->visible_home(txn, caller, home_id);
    if (!home) return home.error();
    if (patch.tls_ports) m->tls_ports = *patch.tls_ports;
    if (patch.http_port) m->http_port = *patch.http_port;
    if (patch.proxy_protocol) m->proxy_protocol = *patch.proxy_protocol;
    m->updated_at = impl_->now();
    if (auto checked = impl_->check_mapping(m.value(), home.value()); !checked) {
      return checked.error();
    }
    if (auto p = txn.put(impl_->dbs.mappings, m->hostname, encode(m.value())); !p) {
      return p.error();
    }
    if (auto a = impl_->audit(txn, caller, "mappings.update", m->hostname, "home=" + home_id); !a) {
      return a.error();
    }
    return m;
  });
  if (!written) return written;
  if (auto projected = impl_->project({written->hostname}); !projected) return projected.error();
  return written;
}

Result<Mapping> StateStore::mappings_get(const Caller& caller, const std::string& home_id,
                                         const std::string& hostname) {
  auto txn = impl_->env.begin(false);
  if (!txn) return txn.error();
  return impl_->visible_mapping(*txn, caller, home_id, hostname);
}

Result<std::vector<Mapping>> StateStore::mappings_list(const Caller& caller,
                                                       const std::string& home_id) {
  auto txn = impl_->env.begin(false);
  if (!txn) return txn.error();
  auto home = impl_->visible_home(*txn, caller, home_id);
  if (!home) return home.error();
  auto hosts = impl_->home_hostnames(*txn, home_id);
  if (!hosts) return hosts.error();
  std::vector<Mapping> out;
  for (const std::string& host : hosts.value()) {
    auto m = impl_->visible_mapping(*txn, caller, home_id, host);
    if (!m) return m.error();
    out.push_back(std::move(m.value()));
  }
  return out;
}

Result<void> StateStore::mappings_delete(const Caller& caller, const std::string& home_id,
                                         const std::string& hostname) {
  std::string host;
  auto deleted = impl_->write<bool>([&](Txn& txn) -> Result<bool> {
    auto m = impl_->visible_mapping(txn, caller, home_id, hostname);
    if (!m) return m.error();
    host = m->hostname;
    if (auto d = txn.del(impl_->dbs.mappings, host); !d) return d.error();
    if (auto d = txn.del(impl_->dbs.home_hosts, home_host_key(home_id, host)); !d) {
      return d.error();
    }
    if (auto a = impl_->audit(txn, caller, "mappings.delete", host, "home=" + home_id); !a) {
      return a.error();
    }
    return true;
  });
  if (!deleted) return deleted.error();
  return impl_->project({host});
}

// ---- system routes ----

Result<void> StateStore::system_routes_set(const Caller& caller,
                                           const std::vector<SystemRoute>& routes) {
  if (!caller.is_admin()) return admin_only("setting system routes");
  std::vector<SystemRoute> wanted = routes;
  for (SystemRoute& r : wanted) {
    r.hostname = lower_ascii(r.hostname);
    if (auto valid = validate_route_hostname(r.hostname); !valid) {
      return invalid_field("hostname", valid.error().context());
    }
    if (r.hostname.front() == '*') return invalid_field("hostname", "a system route is exact");
    if (r.tls_target.empty()) return invalid_field("tls_target", "is required");
    if (auto route = route_for(r); !route) return invalid(route.error().context());
  }
  std::vector<std::string> hosts;
  auto written = impl_->write<bool>([&](Txn& txn) -> Result<bool> {
    hosts.clear();  // the body runs again after the map grew
    auto old = impl_->system_routes(txn);
    if (!old) return old.error();
    for (const SystemRoute& r : old.value()) {
      hosts.push_back(r.hostname);
      if (auto d = txn.del(impl_->dbs.system_routes, r.hostname); !d) return d.error();
    }
    std::string names;
    for (const SystemRoute& r : wanted) {
      auto mapped = txn.get(impl_->dbs.mappings, r.hostname);
      if (!mapped) return mapped.error();
      if (mapped.value()) {
        auto m = decode_mapping(r.hostname, **mapped);
        return conflict("hostname: " + r.hostname + " is mapped by home " +
                        (m ? m->home_id : std::string("?")) + "; delete that mapping first");
      }
      if (auto p = txn.put(impl_->dbs.system_routes, r.hostname, encode(r)); !p) return p.error();
      hosts.push_back(r.hostname);
      names += (names.empty() ? "" : " ") + r.hostname;
    }
    if (auto a = impl_->audit(txn, caller, "system_routes.set", names); !a) return a.error();
    return true;
  });
  if (!written) return written.error();
  return impl_->project(hosts);
}

Result<std::vector<SystemRoute>> StateStore::system_routes_list() {
  auto txn = impl_->env.begin(false);
  if (!txn) return txn.error();
  return impl_->system_routes(*txn);
}

// ---- routes, audit ----

Result<size_t> StateStore::sync_routes(const Caller& caller) {
  if (!caller.is_admin()) return admin_only("syncing routes");
  return impl_->sync();
}

Result<std::vector<std::pair<std::string, Route>>> StateStore::routes_list(const Caller& caller) {
  if (!caller.is_admin()) return admin_only("reading the routes");
  return impl_->routes.list();
}

Result<std::vector<std::pair<std::string, Route>>> StateStore::expected_routes() {
  auto txn = impl_->env.begin(false);
  if (!txn) return txn.error();
  return impl_->all_routes(*txn);
}

Result<std::vector<AuditRecord>> StateStore::audit_list(const Caller& caller, size_t limit,
                                                        uint64_t before) {
  if (!caller.is_admin()) return admin_only("reading the audit log");
  auto txn = impl_->env.begin(false);
  if (!txn) return txn.error();
  MDB_cursor* raw = nullptr;
  int rc = mdb_cursor_open(txn->get(), impl_->dbs.audit, &raw);
  if (rc != 0) return mdb_error(rc, "state: mdb_cursor_open");
  std::unique_ptr<MDB_cursor, decltype(&mdb_cursor_close)> cursor(raw, mdb_cursor_close);
  std::string start = be64_key(before);
  MDB_val k{start.size(), start.data()};
  MDB_val v{};
  // Position on the newest record < before, then walk backwards.
  rc = before == 0 ? mdb_cursor_get(raw, &k, &v, MDB_LAST)
                   : mdb_cursor_get(raw, &k, &v, MDB_SET_RANGE);
  if (before != 0)
    rc = rc == 0 ? mdb_cursor_get(raw, &k, &v, MDB_PREV) : mdb_cursor_get(raw, &k, &v, MDB_LAST);
  std::vector<AuditRecord> out;
  for (; rc == 0 && out.size() < limit; rc = mdb_cursor_get(raw, &k, &v, MDB_PREV)) {
    std::string_view key(static_cast<const char*>(k.mv_data), k.mv_size);
    auto record = decode_audit(key, {static_cast<const char*>(v.mv_data), v.mv_size});
    if (!record) return record.error();
    out.push_back(std::move(record.value()));
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return mdb_error(rc, "state: mdb_cursor_get");
  return out;
}

// ---- invitations ----

Result<IssuedInvitation> StateStore::invitations_create(const Caller& caller, int64_t ttl_seconds) {
  if (!caller.is_admin()) return admin_only("creating an invitation");
  if (ttl_seconds <= 0 || ttl_seconds > 366 * 24 * 3600) {
    return invalid_field("expires", "must be between 1 second and 366 days");
  }
  IssuedInvitation issued;
  issued.code = random_token();
  std::string digest = token_digest(issued.code);
  issued.invitation = {digest.substr(0, 16), caller.username, impl_->now(),
                       impl_->now() + ttl_seconds};
  auto written = impl_->write<bool>([&](Txn& txn) -> Result<bool> {
    if (auto p = txn.put(impl_->dbs.invitations, digest, encode(issued.invitation)); !p) {
      return p.error();
    }
    auto a = impl_->audit(txn, caller, "invitations.create", issued.invitation.id,
                          "expires_at=" + std::to_string(issued.invitation.expires_at));
    if (!a) return a.error();
    return true;
  });
  if (!written) return written.error();
  return issued;
}

Result<std::vector<Invitation>> StateStore::invitations_list(const Caller& caller) {
  if (!caller.is_admin()) return admin_only("listing invitations");
  return impl_->write<std::vector<Invitation>>([&](Txn& txn) -> Result<std::vector<Invitation>> {
    std::vector<Invitation> live;
    std::vector<std::string> expired;
    auto scanned =
        txn.scan(impl_->dbs.invitations, {}, [&](std::string_view k, std::string_view v) {
          auto invitation = decode_invitation(v);
          if (!invitation || invitation->expires_at <= impl_->now()) {
            expired.emplace_back(k);
          } else {
            live.push_back(std::move(invitation.value()));
          }
          return true;
        });
    if (!scanned) return scanned.error();
    for (const std::string& key : expired) {
      if (auto d = txn.del(impl_->dbs.invitations, key); !d) return d.error();
    }
    return live;
  });
}

Result<void> StateStore::invitations_delete(const Caller& caller, const std::string& id) {
  if (!caller.is_admin()) return admin_only("deleting an invitation");
  auto deleted = impl_->write<bool>([&](Txn& txn) -> Result<bool> {
    std::optional<std::string> key;
    auto scanned =
        txn.scan(impl_->dbs.invitations, {}, [&](std::string_view k, std::string_view v) {
          auto invitation = decode_invitation(v);
          if (invitation && invitation->id == id) key = std::string(k);
          return !key;
        });
    if (!scanned) return scanned.error();
    if (!key) return not_found("invitation " + id + " not found");
    if (auto d = txn.del(impl_->dbs.invitations, *key); !d) return d.error();
    if (auto a = impl_->audit(txn, caller, "invitations.delete", id); !a) return a.error();
    return true;
  });
  if (!deleted) return deleted.error();
  return ok();
}

// ---- quotas ----

Result<QuotaView> StateStore::quota_get(const Caller& caller, const std::string& username) {
  if (!caller.is_admin() && caller.username != username) return admin_only("reading a quota");
  auto txn = impl_->env.begin(false);
  if (!txn) return txn.error();
  auto user = impl_->get_user(*txn, username);
  if (!user) return user.error();
  if (!user.value()) return not_found("user " + username + " not found");
  return impl_->quota_view(*txn, username);
}

Result<QuotaView> StateStore::quota_set(const Caller& caller, const std::string& username,
                                        const QuotaOverride& own) {
  if (!caller.is_admin()) return admin_only("setting a quota");
  for (auto [name, value] : {std::pair{"homes", own.homes},
                             {"mappings", own.mappings},
                             {"port_blocks", own.port_blocks}}) {
    if (value && *value > kMaxQuotaValue) {
      return invalid_field(name, "at most " + std::to_string(kMaxQuotaValue));
    }
  }
  return impl_->write<QuotaView>([&](Txn& txn) -> Result<QuotaView> {
    auto user = impl_->get_user(txn, username);
    if (!user) return user.error();
    if (!user.value()) return not_found("user " + username + " not found");
    if (own.empty()) {
      if (auto d = txn.del(impl_->dbs.quotas, username); !d) return d.error();
    } else if (auto p = txn.put(impl_->dbs.quotas, username, encode(own)); !p) {
      return p.error();
    }
    if (auto a = impl_->audit(txn, caller, "quotas.set", username, encode(own)); !a) {
      return a.error();
    }
    return impl_->quota_view(txn, username);
  });
}

RegistrationMode StateStore::registration_mode() const { return impl_->options.registration; }

// ---- upkeep ----

Result<StateStore::StorageUsage> StateStore::storage_usage() {
  StorageUsage usage;
  usage.state = impl_->env.usage();
  usage.routes = impl_->routes.usage();
  usage.routes_in_step = !impl_->routes_dirty.load();
  auto txn = impl_->env.begin(false);
  if (!txn) return txn.error();
  auto records = txn->entries(impl_->dbs.audit);
  if (!records) return records.error();
  usage.audit_records = *records;
  return usage;
}

Result<size_t> StateStore::maintain() {
  // At most this many batches a call, so one call stays short however large the backlog.
  constexpr int kMaxBatches = 10;
  size_t pruned = 0;
  for (int batch = 0; batch < kMaxBatches; ++batch) {
    auto removed = impl_->write<size_t>([&](Txn& txn) {
      return prune_audit(txn, impl_->dbs.audit, impl_->options.audit_retention, impl_->now(),
                         AuditRetention::kMaintenanceBatch);
    });
    if (!removed) return removed.error();
    pruned += *removed;
    if (*removed < AuditRetention::kMaintenanceBatch) break;
  }
  std::vector<std::string> expired_hosts;
  auto expired = impl_->write<bool>([&](Txn& txn) -> Result<bool> {
    auto hosts = impl_->expire_due(txn);
    if (!hosts) return hosts.error();
    expired_hosts = std::move(hosts.value());
    return true;
  });
  if (!expired) return expired.error();
  if (auto projected = impl_->project(expired_hosts); !projected) return projected.error();
  auto released = impl_->write<size_t>([&](Txn& txn) { return impl_->release_quarantined(txn); });
  if (!released) return released.error();
  if (*released > 0) log_line("state: released %zu quarantined port block(s)", *released);
  if (impl_->routes_dirty.load()) {
    if (auto synced = impl_->resync(); !synced) return synced.error();
    log_line("state: the route table is in step with the state again");
  }
  return pruned;
}

// ---- authorized keys ----

const char* const kNowhere = "192.0.2.1:9";

Result<std::optional<std::string>> authorized_keys_line(const std::string& data_dir,
                                                        const std::string& user,
                                                        const std::string& key_type,
                                                        const std::string& key_base64,
                                                        const std::string& ssh_user) {
  using Line = std::optional<std::string>;
  if (user != ssh_user || key_base64.empty()) return Line();
  std::string dir = data_dir + "/state";
  std::error_code ec;
  if (!std::filesystem::exists(dir + "/data.mdb", ec)) return Line();
  auto env = Env::open(dir, false, kMaxDbs, kStateFileMode);
  if (!env) return env.error();
  auto dbs = open_dbs(env.value());
  if (!dbs) return dbs.error();
  auto txn = env->begin(false);
  if (!txn) return txn.error();
  auto id = txn->get(dbs->keys, key_base64);
  if (!id) return id.error();
  if (!id.value()) return Line();
  auto raw = txn->get(dbs->homes, **id);
  if (!raw) return raw.error();
  if (!raw.value()) return Line();
  auto home = decode_home(**id, **raw);
  if (!home) return home.error();
  if (home->key.type != key_type || home->key.base64 != key_base64) return Line();
  auto owner = txn->get(dbs->users, home->owner);
  if (!owner) return owner.error();
  if (!owner.value()) return Line();
  auto record = decode_user(home->owner, **owner);
  if (!record) return record.error();
  if (!record->user.active) return Line();
  const int64_t now = system_now();
  if (lapsed(home->expires_at, home->expired, now) ||
      lapsed(record->user.expires_at, record->user.expired, now)) {
    return Line();
  }
  // No -L/-W even if the sshd drop-in ever allowed local forwarding: permitopen names the one
  // destination allowed, and this one is nowhere (TEST-NET-1, RFC 5737; the discard port).
  // sshd refuses permitopen="none" in a key line ("invalid permission port": the whole key
  // would be refused); "none" is valid only for sshd_config's PermitOpen.
  std::string line = std::string("restrict,port-forwarding,permitopen=\"") + kNowhere + "\"";
  for (uint16_t port : home->ports()) {
    line += ",permitlisten=\"127.0.0.1:" + std::to_string(port) + "\"";
  }
  return Line(line + " " + home->key.to_line());
}

}  // namespace cloudlink::state

namespace cloudlink::state {

Result<SessionPolicy> session_policy(const std::string& data_dir) {
  SessionPolicy policy;
  std::string dir = data_dir + "/state";
  std::error_code ec;
  // No state is an error, not an empty policy: a reaper pointed at the wrong directory must
  // end nothing rather than every session.
  if (!std::filesystem::exists(dir + "/data.mdb", ec)) {
    return Error(ENOENT, "sessions: no state in " + dir);
  }
  auto env = Env::open(dir, false, kMaxDbs, kStateFileMode);
  if (!env) return env.error();
  auto dbs = open_dbs(env.value());
  if (!dbs) return dbs.error();
  auto txn = env->begin(false);
  if (!txn) return txn.error();
  std::map<std::string, bool> owners;  // username -> may log in
  std::optional<Error> failed;
  const int64_t now = system_now();
  auto scanned = txn->scan(dbs->homes, {}, [&](std::string_view k, std::string_view v) {
    auto home = decode_home(k, v);
    if (!home) {
      failed = home.error();
      return false;
    }
    auto known = owners.find(home->owner);
    if (known == owners.end()) {
      bool active = false;
      auto raw = txn->get(dbs->users, home->owner);
      if (raw && raw.value()) {
        auto record = decode_user(home->owner, **raw);
        active = record && record->user.active &&
                 !lapsed(record->user.expires_at, record->user.expired, now);
      }
      known = owners.emplace(home->owner, active).first;
    }
    if (!known->second || lapsed(home->expires_at, home->expired, now)) return true;
    for (uint16_t port : home->ports()) policy.ports[port] = home->id;
    policy.keys.insert(home->key.base64);
    return true;
  });
  if (!scanned) return scanned.error();
  if (failed) return *failed;
  return policy;
}

}  // namespace cloudlink::state
