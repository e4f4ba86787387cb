// The control plane's state store: users and approval, login throttling, tokens, homes and
// their port blocks, public key rules, mappings and isolation, audit, the routes projection,
// and the authorized-keys lookup sshd runs.
#include "control/state/state_store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "common/route_table.h"
#include "control/state/data_folder.h"
#include "control/state/records.h"
#include "temp_dir.h"
#include "test_result.h"

namespace cloudlink::state {
namespace {

using testing::TempDir;

// Public keys made by ssh-keygen once per test binary, by type and size.
class Keys {
 public:
  static std::string make(const std::string& type, int bits = 0) {
    static TempDir dir;
    static int counter = 0;
    std::string file = dir.path() + "/k" + std::to_string(counter++);
    std::string command = "ssh-keygen -q -N '' -C test -t " + type +
                          (bits != 0 ? " -b " + std::to_string(bits) : std::string()) + " -f " +
                          file + " >/dev/null 2>&1";
    if (std::system(command.c_str()) != 0) return "";
    std::ifstream in(file + ".pub");
    std::string line;
    std::getline(in, line);
    return line;
  }
};

bool have_ssh_keygen() { return std::system("command -v ssh-keygen >/dev/null 2>&1") == 0; }

std::string encoded_routes(const std::vector<std::pair<std::string, Route>>& routes) {
  std::string out;
  for (const auto& [host, route] : routes) out += host + "=" + encode_route(route) + ";";
  return out;
}

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_ssh_keygen()) GTEST_SKIP() << "ssh-keygen is not installed";
    reopen();
    admin_ = Caller::local_admin();
    ASSERT_OK(store_->users_add(admin_, "alice", "alice-password", Role::kUser, true));
    ASSERT_OK(store_->users_add(admin_, "bob", "bob-password", Role::kUser, true));
    alice_ = {"alice", Role::kUser, "192.0.2.1"};
    bob_ = {"bob", Role::kUser, "192.0.2.2"};
  }

  StoreOptions options() {
    StoreOptions o;
    o.password_cost = PasswordCost::kMinimum;
    o.now = [this] { return now_; };
    o.port_first = 20000;
    o.port_last = 20049;
    o.port_block = port_block_;
    o.create = true;
    o.port_quarantine_seconds = quarantine_seconds_;
    o.listening_ports = [this]() -> Result<std::set<uint16_t>> { return listening_; };
    return o;
  }

  void reopen() {
    store_.reset();
    auto opened = StateStore::open(dir_.path(), options());
    ASSERT_OK(opened);
    store_ = std::move(opened.value());
  }

  std::string routes_now() {
    auto table = RouteTable::open_writable(dir_.path());
    if (!table) return "error: " + table.error().message();
    auto list = table->list();
    if (!list) return "error: " + list.error().message();
    return encoded_routes(list.value());
  }

  std::string routes_expected() {
    auto expected = store_->expected_routes();
    if (!expected) return "error: " + expected.error().message();
    return encoded_routes(expected.value());
  }

  Home make_home(const Caller& who, const std::string& name) {
    auto home = store_->homes_create(who, name, Keys::make("ed25519"));
    EXPECT_OK(home);
    return home ? home.value() : Home{};
  }

  static Mapping mapping(const std::string& host, std::vector<uint16_t> ports,
                         std::optional<uint16_t> http = std::nullopt) {
    Mapping m;
    m.hostname = host;
    m.tls_ports = std::move(ports);
    m.http_port = http;
    return m;
  }

  TempDir dir_;
  int64_t now_ = 1'700'000'000;
  uint16_t port_block_ = 10;
  int64_t quarantine_seconds_ = 0;
  std::set<uint16_t> listening_;  // what "listens" now, for the port quarantine
  std::unique_ptr<StateStore> store_;
  Caller admin_;
  Caller alice_;
  Caller bob_;
};

template <typename R>
StateErrc code_of(const R& result) {
  return result.ok() ? StateErrc{} : static_cast<StateErrc>(result.error().value());
}

TEST(StateErrors, MapToHttpStatus) {
  EXPECT_EQ(http_status(not_found("x")), 404);
  EXPECT_EQ(http_status(forbidden("x")), 403);
  EXPECT_EQ(http_status(conflict("x")), 409);
  EXPECT_EQ(http_status(invalid_field("hostname", "bad")), 400);
  EXPECT_EQ(http_status(unauthorized("x")), 401);
  EXPECT_EQ(http_status(state_error(StateErrc::kThrottled, "x")), 429);
  EXPECT_EQ(http_status(Error(EIO, "disk")), 500);
  EXPECT_STREQ(error_code_name(conflict("x")), "conflict");
  EXPECT_EQ(invalid_field("hostname", "bad").context(), "hostname: bad");
}

TEST(StateStoreOpen, RefusesAFolderNeverInitialisedAndCreatesOnlyWhenAsked) {
  TempDir dir;
  StoreOptions o;
  o.password_cost = PasswordCost::kMinimum;
  auto refused = StateStore::open(dir.path(), o);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(code_of(refused), StateErrc::kInvalid);
  EXPECT_ERR_WITH(refused, "never initialised");
  EXPECT_ERR_WITH(refused, "cloudlink-control init --data " + dir.path());
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/state"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/routes"));
  o.create = true;
  ASSERT_OK(StateStore::open(dir.path(), o));
  EXPECT_TRUE(data_folder_initialised(dir.path()));
  o.create = false;
  EXPECT_OK(StateStore::open(dir.path(), o));
}

TEST_F(StateStoreTest, SignupIsInactiveUntilApproved) {
  ASSERT_OK(store_->signup("carol", "carol-password", "198.51.100.9"));
  auto refused = store_->login("carol", "carol-password", "198.51.100.9");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(http_status(refused.error()), 401);
  EXPECT_EQ(code_of(store_->users_approve(alice_, "carol")), StateErrc::kForbidden);
  ASSERT_OK(store_->users_approve(admin_, "carol"));
  auto token = store_->login("carol", "carol-password", "198.51.100.9");
  ASSERT_OK(token);
  EXPECT_GE(token->token.size(), 43u);  // 256 bits, base64url
  EXPECT_EQ(token->expires_at, now_ + 24 * 3600);
  auto who = store_->check_token(token->token);
  ASSERT_OK(who);
  EXPECT_EQ(who->username, "carol");
  EXPECT_EQ(who->role, Role::kUser);
}

TEST_F(StateStoreTest, UserRules) {
  EXPECT_EQ(code_of(store_->signup("alice", "another-password", "x")), StateErrc::kConflict);
  EXPECT_ERR_WITH(store_->signup("Bad Name", "password-ok", "x"), "username");
  EXPECT_ERR_WITH(store_->signup("dave", "short", "x"), "password");
  EXPECT_EQ(code_of(store_->users_list(alice_)), StateErrc::kForbidden);
  EXPECT_EQ(code_of(store_->users_add(alice_, "eve", "eve-password", Role::kAdmin, true)),
            StateErrc::kForbidden);
  auto users = store_->users_list(admin_);
  ASSERT_OK(users);
  ASSERT_EQ(users->size(), 2u);
  EXPECT_EQ((*users)[0].username, "alice");
  EXPECT_TRUE((*users)[0].active);
}

TEST_F(StateStoreTest, FailedLoginsAreThrottledPerUser) {
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(code_of(store_->login("alice", "wrong-password", "192.0.2.50")),
              StateErrc::kUnauthorized);
  }
  // Throttled now, even with the right password.
  auto throttled = store_->login("alice", "alice-password", "192.0.2.51");
  EXPECT_EQ(code_of(throttled), StateErrc::kThrottled);
  EXPECT_EQ(http_status(throttled.error()), 429);
  // Another user is not affected.
  EXPECT_OK(store_->login("bob", "bob-password", "192.0.2.51"));
  now_ += 2;
  EXPECT_OK(store_->login("alice", "alice-password", "192.0.2.51"));
  // A success resets the count.
  EXPECT_EQ(code_of(store_->login("alice", "wrong-password", "192.0.2.51")),
            StateErrc::kUnauthorized);
}

TEST_F(StateStoreTest, FailedLoginsAreThrottledPerSource) {
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(code_of(store_->login("guess" + std::to_string(i), "wrong-password", "203.0.113.5")),
              StateErrc::kUnauthorized);
  }
  EXPECT_EQ(code_of(store_->login("bob", "bob-password", "203.0.113.5")), StateErrc::kThrottled);
  EXPECT_OK(store_->login("bob", "bob-password", "203.0.113.6"));
  now_ += 3600;
  EXPECT_OK(store_->login("bob", "bob-password", "203.0.113.5"));
}

TEST_F(StateStoreTest, LoginFailuresDecayAndASuccessResetsTheUser) {
  // 20 failures with made-up names from one source (every client behind a proxy looks like
  // one): that source waits, another does not, and 15 minutes without failures later, with
  // no success in between, neither does the first.
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(code_of(store_->login("made-up" + std::to_string(i), "wrong-password", "127.0.0.1")),
              StateErrc::kUnauthorized);
  }
  EXPECT_EQ(code_of(store_->login("bob", "bob-password", "127.0.0.1")), StateErrc::kThrottled);
  EXPECT_OK(store_->login("bob", "bob-password", "192.0.2.80"));
  now_ += 900;
  EXPECT_OK(store_->login("bob", "bob-password", "127.0.0.1"));
  // Four failures, a success, four more: never throttled (5 free per user).
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(code_of(store_->login("alice", "wrong-password", "192.0.2.81")),
                StateErrc::kUnauthorized);
    }
    EXPECT_OK(store_->login("alice", "alice-password", "192.0.2.81"));
  }
}

TEST_F(StateStoreTest, TokensExpireAndAreRevoked) {
  auto token = store_->login("alice", "alice-password", "192.0.2.1");
  ASSERT_OK(token);
  EXPECT_OK(store_->check_token(token->token));
  EXPECT_EQ(code_of(store_->check_token("not-a-token")), StateErrc::kUnauthorized);
  now_ += 24 * 3600;
  EXPECT_EQ(code_of(store_->check_token(token->token)), StateErrc::kUnauthorized);

  auto second = store_->login("alice", "alice-password", "192.0.2.1");
  ASSERT_OK(second);
  EXPECT_EQ(code_of(store_->revoke_token(bob_, second->token)), StateErrc::kForbidden);
  ASSERT_OK(store_->revoke_token(alice_, second->token));
  EXPECT_EQ(code_of(store_->check_token(second->token)), StateErrc::kUnauthorized);

  auto third = store_->login("alice", "alice-password", "192.0.2.1");
  auto fourth = store_->login("alice", "alice-password", "192.0.2.1");
  ASSERT_OK(third);
  ASSERT_OK(fourth);
  EXPECT_EQ(code_of(store_->revoke_user_tokens(bob_, "alice")), StateErrc::kForbidden);
  auto revoked = store_->revoke_user_tokens(admin_, "alice");
  ASSERT_OK(revoked);
  EXPECT_EQ(revoked.value(), 2u);
  EXPECT_ERR(store_->check_token(third->token));
  EXPECT_ERR(store_->check_token(fourth->token));
}

TEST_F(StateStoreTest, TokensSurviveReopen) {
  auto token = store_->login("alice", "alice-password", "192.0.2.1");
  ASSERT_OK(token);
  reopen();
  EXPECT_OK(store_->check_token(token->token));
}

TEST_F(StateStoreTest, PortBlocksNeverOverlapAndAreFreed) {
  Home a = make_home(alice_, "A");
  Home b = make_home(bob_, "B");
  Home c = make_home(alice_, "C");
  EXPECT_EQ(a.port_first, 20000);
  EXPECT_EQ(b.port_first, 20010);
  EXPECT_EQ(c.port_first, 20020);
  EXPECT_EQ(a.ports().size(), 10u);
  ASSERT_OK(store_->homes_delete(bob_, b.id));
  Home d = make_home(bob_, "D");
  EXPECT_EQ(d.port_first, 20010);  // B's block, freed
  make_home(bob_, "E");
  make_home(bob_, "F");
  auto full = store_->homes_create(bob_, "G", Keys::make("ed25519"));
  EXPECT_EQ(code_of(full), StateErrc::kConflict);  // 20000-20049 holds five blocks
}

TEST_F(StateStoreTest, DeletedHomesBlockIsQuarantinedWhileListenedOnAndForItsMinimum) {
  quarantine_seconds_ = 30;
  reopen();
  Home a = make_home(alice_, "A");
  Home b = make_home(bob_, "B");
  listening_ = {20013};  // b's old session still listens on one of its ports
  ASSERT_OK(store_->homes_delete(bob_, b.id));
  auto held = store_->quarantine_list(admin_);
  ASSERT_OK(held);
  ASSERT_EQ(held->size(), 1u);
  EXPECT_EQ(held->front().port_first, 20010);
  EXPECT_EQ(held->front().home_id, b.id);
  EXPECT_EQ(code_of(store_->quarantine_list(alice_)), StateErrc::kForbidden);
  // Still listened on: the next home gets the next block, whatever the time.
  now_ += 3600;
  Home c = make_home(alice_, "C");
  EXPECT_EQ(c.port_first, 20020);
  // Nothing listens, but the minimum quarantine has not passed since the next delete.
  ASSERT_OK(store_->homes_delete(alice_, c.id));
  listening_ = {};
  Home d = make_home(alice_, "D");
  EXPECT_EQ(d.port_first, 20010);  // b's block: free and quarantined for an hour
  Home e = make_home(bob_, "E");
  EXPECT_EQ(e.port_first, 20030);  // c's block is quarantined 0 s so far
  now_ += 30;
  ASSERT_OK(store_->maintain());  // serve's upkeep releases it
  EXPECT_TRUE(store_->quarantine_list(admin_)->empty());
  auto audit = store_->audit_list(admin_, 1);
  ASSERT_OK(audit);
  EXPECT_EQ(audit->front().action, "ports.release");
  EXPECT_EQ(audit->front().target, "20020+10");
  Home f = make_home(bob_, "F");
  EXPECT_EQ(f.port_first, 20020);
  // A failed probe keeps the block.
  ASSERT_OK(store_->homes_delete(bob_, f.id));
  now_ += 60;
  StoreOptions broken = options();
  broken.listening_ports = []() -> Result<std::set<uint16_t>> { return Error(EIO, "probe"); };
  store_.reset();
  auto reopened = StateStore::open(dir_.path(), broken);
  ASSERT_OK(reopened);
  ASSERT_OK((*reopened)->maintain());
  EXPECT_EQ((*reopened)->quarantine_list(admin_)->size(), 1u);
  (void)a;
}

TEST_F(StateStoreTest, SessionPolicyHoldsThePortsAndKeysOfHomesThatMayLogIn) {
  Home a = make_home(alice_, "A");
  Home b = make_home(bob_, "B");
  auto policy = session_policy(dir_.path());
  ASSERT_OK(policy);
  EXPECT_EQ(policy->ports.size(), 20u);
  EXPECT_EQ(policy->ports.at(20000), a.id);
  EXPECT_EQ(policy->ports.at(20019), b.id);
  EXPECT_TRUE(policy->keys.contains(a.key.base64));
  ASSERT_OK(store_->users_deactivate(admin_, "bob"));
  policy = session_policy(dir_.path());
  ASSERT_OK(policy);
  EXPECT_FALSE(policy->ports.contains(20010));
  EXPECT_FALSE(policy->keys.contains(b.key.base64));
  ASSERT_OK(store_->homes_delete(alice_, a.id));
  policy = session_policy(dir_.path());
  ASSERT_OK(policy);
  EXPECT_TRUE(policy->ports.empty());
  EXPECT_FALSE(session_policy(dir_.path() + "/none"));  // a wrong --data ends nothing
}

TEST_F(StateStoreTest, ExpiryRefusesTokensAndKeysThenWithdrawsRoutes) {
  Home a = make_home(alice_, "A");
  ASSERT_OK(store_->mappings_create(alice_, a.id, mapping("a.example.com", {20000})));
  Home b = make_home(bob_, "B");
  ASSERT_OK(store_->mappings_create(bob_, b.id, mapping("b.example.com", {20010})));
  auto token = store_->login("alice", "alice-password", "192.0.2.1");
  ASSERT_OK(token);
  EXPECT_EQ(code_of(store_->users_set_expiry(alice_, "alice", now_ + 10)), StateErrc::kForbidden);
  EXPECT_EQ(code_of(store_->users_set_expiry(admin_, "nobody", now_ + 10)), StateErrc::kNotFound);
  EXPECT_EQ(code_of(store_->users_set_expiry(admin_, "alice", -1)), StateErrc::kInvalid);
  auto set = store_->users_set_expiry(admin_, "alice", now_ + 10);
  ASSERT_OK(set);
  EXPECT_EQ(set->expires_at, now_ + 10);
  ASSERT_OK(store_->check_token(token->token));
  ASSERT_OK(store_->maintain());
  EXPECT_NE(routes_now().find("a.example.com"), std::string::npos);

  now_ += 10;  // the second it expires: refused at once, before any upkeep
  EXPECT_EQ(code_of(store_->check_token(token->token)), StateErrc::kUnauthorized);
  EXPECT_EQ(code_of(store_->login("alice", "alice-password", "192.0.2.1")),
            StateErrc::kUnauthorized);
  // authorized-keys and the reaper's policy read the real clock, long past this one.
  EXPECT_FALSE(
      authorized_keys_line(dir_.path(), "cloudlink", a.key.type, a.key.base64)->has_value());
  EXPECT_FALSE(session_policy(dir_.path())->ports.contains(20000));
  EXPECT_TRUE(session_policy(dir_.path())->ports.contains(20010));
  ASSERT_OK(store_->maintain());  // the upkeep carries it out
  auto audit = store_->audit_list(admin_, 10);
  ASSERT_OK(audit);
  auto expire = std::find_if(audit->begin(), audit->end(),
                             [](const AuditRecord& r) { return r.action == "users.expire"; });
  ASSERT_NE(expire, audit->end());
  EXPECT_EQ(expire->target, "alice");
  EXPECT_NE(expire->detail.find("tokens_revoked=1"), std::string::npos) << expire->detail;
  EXPECT_NE(expire->detail.find("routes_withdrawn=1"), std::string::npos) << expire->detail;
  EXPECT_EQ(routes_now().find("a.example.com"), std::string::npos);
  EXPECT_NE(routes_now().find("b.example.com"), std::string::npos);
  EXPECT_EQ(routes_now(), routes_expected());  // a sync gives the same table
  ASSERT_OK(store_->maintain());               // once only
  auto later = store_->audit_list(admin_, 20);
  ASSERT_OK(later);
  EXPECT_EQ(std::count_if(later->begin(), later->end(),
                          [](const AuditRecord& r) { return r.action == "users.expire"; }),
            1);
  auto users = store_->users_list(admin_);
  ASSERT_OK(users);
  for (const User& u : *users) {
    if (u.username == "alice") {
      EXPECT_TRUE(u.expired && !u.active);
    }
  }
  // Lifted: the routes come back; the account logs in once approved again.
  ASSERT_OK(store_->users_set_expiry(admin_, "alice", 0));
  EXPECT_NE(routes_now().find("a.example.com"), std::string::npos);
  EXPECT_EQ(code_of(store_->login("alice", "alice-password", "192.0.2.1")),
            StateErrc::kUnauthorized);
  ASSERT_OK(store_->users_approve(admin_, "alice"));
  ASSERT_OK(store_->login("alice", "alice-password", "192.0.2.1"));
  EXPECT_EQ(code_of(store_->check_token(token->token)), StateErrc::kUnauthorized);

  // A home: its key and route go, the home and its ports stay.
  EXPECT_EQ(code_of(store_->homes_set_expiry(bob_, b.id, now_ + 5)), StateErrc::kForbidden);
  ASSERT_OK(store_->homes_set_expiry(admin_, b.id, now_ + 5));
  now_ += 5;
  ASSERT_OK(store_->maintain());
  EXPECT_EQ(store_->audit_list(admin_, 1)->front().action, "homes.expire");
  EXPECT_EQ(routes_now().find("b.example.com"), std::string::npos);
  EXPECT_FALSE(
      authorized_keys_line(dir_.path(), "cloudlink", b.key.type, b.key.base64)->has_value());
  auto still = store_->homes_get(bob_, b.id);
  ASSERT_OK(still);
  EXPECT_TRUE(still->expired);
  EXPECT_EQ(still->port_first, 20010);
  ASSERT_OK(store_->homes_set_expiry(admin_, b.id, 0));
  EXPECT_NE(routes_now().find("b.example.com"), std::string::npos);
  EXPECT_TRUE(
      authorized_keys_line(dir_.path(), "cloudlink", b.key.type, b.key.base64)->has_value());
}

TEST_F(StateStoreTest, ChangedBlockSizeStillDoesNotOverlap) {
  Home a = make_home(alice_, "A");
  Home b = make_home(alice_, "B");
  ASSERT_OK(store_->homes_delete(alice_, a.id));
  port_block_ = 15;
  reopen();
  Home c = make_home(alice_, "C");
  EXPECT_EQ(c.port_first, b.port_first + 10);  // 15 ports do not fit in A's freed 10
  port_block_ = 5;
  reopen();
  Home d = make_home(alice_, "D");
  EXPECT_EQ(d.port_first, 20000);
}

TEST_F(StateStoreTest, PublicKeyRules) {
  for (auto [type, bits] :
       {std::pair{"ed25519", 0}, {"ecdsa", 256}, {"ecdsa", 384}, {"ecdsa", 521}, {"rsa", 3072}}) {
    std::string key = Keys::make(type, bits);
    auto parsed = parse_public_key_line(key);
    ASSERT_OK(parsed) << type << " " << bits;
    EXPECT_EQ(parsed->bits, bits == 0 ? 256u : static_cast<unsigned>(bits));
    EXPECT_EQ(parsed->to_line() + " test", key);
  }
  EXPECT_ERR_WITH(parse_public_key_line(Keys::make("rsa", 2048)), "2048 bits");
  EXPECT_ERR_WITH(parse_public_key_line("ssh-dss AAAAB3NzaC1kc3M="), "not accepted");
  EXPECT_ERR_WITH(parse_public_key_line("ssh-ed25519 !!!"), "base64");
  EXPECT_ERR_WITH(parse_public_key_line(""), "public_key");
  // The blob must hold the key the type names.
  std::string ed = Keys::make("ed25519");
  std::string blob = ed.substr(ed.find(' ') + 1, ed.rfind(' ') - ed.find(' ') - 1);
  EXPECT_ERR_WITH(parse_public_key("ssh-rsa", blob), "does not hold");
  EXPECT_ERR_WITH(parse_public_key("ssh-ed25519", blob.substr(0, blob.size() - 4)), "public_key");
  EXPECT_ERR_WITH(parse_public_key_line(ed + "\nssh-ed25519 " + blob), "single line");

  auto weak = store_->homes_create(alice_, "weak", Keys::make("rsa", 2048));
  EXPECT_EQ(code_of(weak), StateErrc::kInvalid);
  EXPECT_EQ(http_status(weak.error()), 400);
  // One key, one home.
  std::string key = Keys::make("ed25519");
  ASSERT_OK(store_->homes_create(alice_, "one", key));
  EXPECT_EQ(code_of(store_->homes_create(bob_, "two", key)), StateErrc::kConflict);
}

TEST_F(StateStoreTest, HomesAreIsolated) {
  Home a = make_home(alice_, "Alice's Home");
  EXPECT_EQ(a.slug, "alice-s-home");
  Home a2 = make_home(alice_, "alice s home");
  EXPECT_EQ(a2.slug, "alice-s-home-2");
  EXPECT_EQ(code_of(store_->homes_get(bob_, a.id)), StateErrc::kNotFound);
  EXPECT_EQ(code_of(store_->homes_delete(bob_, a.id)), StateErrc::kNotFound);
  EXPECT_EQ(code_of(store_->homes_rotate_key(bob_, a.id, Keys::make("ed25519"))),
            StateErrc::kNotFound);
  EXPECT_EQ(code_of(store_->mappings_list(bob_, a.id)), StateErrc::kNotFound);
  auto bobs = store_->homes_list(bob_);
  ASSERT_OK(bobs);
  EXPECT_TRUE(bobs->empty());
  auto all = store_->homes_list(admin_);
  ASSERT_OK(all);
  EXPECT_EQ(all->size(), 2u);
  EXPECT_OK(store_->homes_get(admin_, a.id));
  EXPECT_OK(store_->homes_get(alice_, a.id));
}

TEST_F(StateStoreTest, MappingsConflictForbidAndIsolate) {
  Home a = make_home(alice_, "A");
  Home b = make_home(bob_, "B");
  auto created =
      store_->mappings_create(alice_, a.id, mapping("App.Example.com", {20000, 20001}, 20002));
  ASSERT_OK(created);
  EXPECT_EQ(created->hostname, "app.example.com");
  // A hostname belongs to one mapping across all users.
  auto taken = store_->mappings_create(bob_, b.id, mapping("app.example.com", {20010}));
  EXPECT_EQ(code_of(taken), StateErrc::kConflict);
  EXPECT_EQ(code_of(store_->mappings_create(alice_, a.id, mapping("app.example.com", {20003}))),
            StateErrc::kConflict);
  // A home may only point at its own ports.
  auto foreign = store_->mappings_create(bob_, b.id, mapping("b.example.com", {20000}));
  EXPECT_EQ(code_of(foreign), StateErrc::kForbidden);
  EXPECT_ERR_WITH(foreign, "tls_ports");
  EXPECT_EQ(code_of(store_->mappings_create(bob_, b.id, mapping("b.example.com", {20010}, 20001))),
            StateErrc::kForbidden);
  // Bob cannot use, read, change or delete Alice's home or mapping.
  EXPECT_EQ(code_of(store_->mappings_create(bob_, a.id, mapping("c.example.com", {20000}))),
            StateErrc::kNotFound);
  EXPECT_EQ(code_of(store_->mappings_get(bob_, a.id, "app.example.com")), StateErrc::kNotFound);
  EXPECT_EQ(code_of(store_->mappings_get(bob_, b.id, "app.example.com")), StateErrc::kNotFound);
  MappingPatch patch;
  patch.tls_ports = std::vector<uint16_t>{20010};
  EXPECT_EQ(code_of(store_->mappings_update(bob_, a.id, "app.example.com", patch)),
            StateErrc::kNotFound);
  EXPECT_EQ(code_of(store_->mappings_update(bob_, b.id, "app.example.com", patch)),
            StateErrc::kNotFound);
  EXPECT_EQ(code_of(store_->mappings_delete(bob_, a.id, "app.example.com")), StateErrc::kNotFound);
  EXPECT_OK(store_->mappings_get(admin_, a.id, "app.example.com"));
  // Bad input names the field.
  EXPECT_ERR_WITH(store_->mappings_create(alice_, a.id, mapping("bad_host", {20000})), "hostname");
  EXPECT_ERR_WITH(store_->mappings_create(alice_, a.id, mapping("x.example.com", {})), "tls_ports");
  EXPECT_ERR_WITH(store_->mappings_create(alice_, a.id, mapping("x.example.com", {20000, 20000})),
                  "listed twice");
  // Nothing of that reached the routes.
  auto listed = store_->mappings_list(alice_, a.id);
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(routes_now(), routes_expected());
}

TEST_F(StateStoreTest, MappingWritesProjectRoutes) {
  Home a = make_home(alice_, "A");
  Mapping m = mapping("app.example.com", {20000, 20001}, 20002);
  m.proxy_protocol = ProxyProtocol::kV2;
  ASSERT_OK(store_->mappings_create(alice_, a.id, m));
  auto table = RouteTable::open_readonly(dir_.path());
  ASSERT_OK(table);
  auto reader = table->make_reader();
  ASSERT_OK(reader);
  Route route;
  ASSERT_EQ(reader->lookup("app.example.com", route), LookupStatus::kFound);
  ASSERT_EQ(route.targets().size(), 2u);
  EXPECT_EQ(route.targets()[0].to_string(), "127.0.0.1:20000");
  EXPECT_EQ(route.targets()[1].to_string(), "127.0.0.1:20001");
  EXPECT_EQ(route.http_target.to_string(), "127.0.0.1:20002");
  EXPECT_TRUE(route.has_flag(kRouteProxyV2));
  EXPECT_EQ(route.home_id(), a.id);

  MappingPatch patch;
  patch.tls_ports = std::vector<uint16_t>{20005};
  patch.http_port = std::optional<uint16_t>();
  patch.proxy_protocol = ProxyProtocol::kNone;
  ASSERT_OK(store_->mappings_update(alice_, a.id, "app.example.com", patch));
  ASSERT_EQ(reader->lookup("app.example.com", route), LookupStatus::kFound);
  EXPECT_EQ(route.targets()[0].to_string(), "127.0.0.1:20005");
  EXPECT_TRUE(route.http_target.empty());
  EXPECT_FALSE(route.has_flag(kRouteProxyV2));

  ASSERT_OK(store_->mappings_create(alice_, a.id, mapping("*.example.org", {20003})));
  ASSERT_OK(store_->mappings_delete(alice_, a.id, "app.example.com"));
  EXPECT_EQ(reader->lookup("app.example.com", route), LookupStatus::kNotFound);
  EXPECT_EQ(reader->lookup("x.example.org", route), LookupStatus::kFound);
  ASSERT_OK(store_->homes_delete(alice_, a.id));
  EXPECT_EQ(reader->lookup("x.example.org", route), LookupStatus::kNotFound);
  EXPECT_EQ(routes_now(), "");
}

TEST_F(StateStoreTest, RoutesEqualAFreshSync) {
  Home a = make_home(alice_, "A");
  Home b = make_home(bob_, "B");
  ASSERT_OK(store_->mappings_create(alice_, a.id, mapping("a1.example.com", {20000})));
  ASSERT_OK(store_->mappings_create(alice_, a.id, mapping("a2.example.com", {20001, 20002})));
  ASSERT_OK(store_->mappings_create(bob_, b.id, mapping("b1.example.com", {20010}, 20011)));
  ASSERT_OK(store_->mappings_delete(alice_, a.id, "a1.example.com"));
  std::string incremental = routes_now();
  EXPECT_EQ(incremental, routes_expected());
  EXPECT_NE(incremental.find("a2.example.com"), std::string::npos);

  // A route written behind the store's back (or a crash between the two commits) is repaired
  // by a sync, and by the next open.
  {
    auto table = RouteTable::open_writable(dir_.path());
    ASSERT_OK(table);
    ASSERT_OK(table->remove("b1.example.com"));
    ASSERT_OK(table->put("stray.example.com", store_->expected_routes().value()[0].second));
  }
  EXPECT_NE(routes_now(), incremental);
  EXPECT_EQ(code_of(store_->sync_routes(alice_)), StateErrc::kForbidden);
  auto synced = store_->sync_routes(admin_);
  ASSERT_OK(synced);
  EXPECT_EQ(synced.value(), 2u);
  EXPECT_EQ(routes_now(), incremental);
  ASSERT_OK(RouteTable::open_writable(dir_.path())->remove("a2.example.com"));
  reopen();
  EXPECT_EQ(routes_now(), incremental);
}

TEST_F(StateStoreTest, SystemRoutesSurviveSyncAndAreNotClaimable) {
  Home a = make_home(alice_, "A");
  ASSERT_OK(store_->mappings_create(alice_, a.id, mapping("app.example.com", {20000})));
  SystemRoute own;
  own.hostname = "VPS.example.com";
  own.tls_target = SocketAddress::parse("127.0.0.1:8443").value();
  own.http_target = SocketAddress::parse("127.0.0.1:8080").value();
  EXPECT_EQ(code_of(store_->system_routes_set(alice_, {own})), StateErrc::kForbidden);
  ASSERT_OK(store_->system_routes_set(admin_, {own}));
  auto table = RouteTable::open_readonly(dir_.path());
  ASSERT_OK(table);
  auto reader = table->make_reader();
  ASSERT_OK(reader);
  Route route;
  ASSERT_EQ(reader->lookup("vps.example.com", route), LookupStatus::kFound);
  EXPECT_EQ(route.targets()[0].to_string(), "127.0.0.1:8443");
  EXPECT_EQ(route.http_target.to_string(), "127.0.0.1:8080");
  EXPECT_EQ(route.home_id(), "control");

  // No home may claim it, whatever the case; a sync and a reopen keep it.
  auto claimed = store_->mappings_create(alice_, a.id, mapping("vps.EXAMPLE.com", {20001}));
  EXPECT_EQ(code_of(claimed), StateErrc::kConflict);
  EXPECT_ERR_WITH(claimed, "reserved for cloudlink-control");
  ASSERT_OK(store_->sync_routes(admin_));
  ASSERT_EQ(reader->lookup("vps.example.com", route), LookupStatus::kFound);
  // Closing one handle of an LMDB environment drops the process's reader locks on it: the
  // checks after the reopen read through a fresh handle.
  reader = Result<RouteTable::Reader>(Error(EIO, "closed"));
  table = Result<RouteTable>(Error(EIO, "closed"));
  reopen();
  table = RouteTable::open_readonly(dir_.path());
  ASSERT_OK(table);
  reader = table->make_reader();
  ASSERT_OK(reader);
  ASSERT_EQ(reader->lookup("vps.example.com", route), LookupStatus::kFound);
  auto listed = store_->system_routes_list();
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().hostname, "vps.example.com");
  EXPECT_EQ(listed->front().http_target.to_string(), "127.0.0.1:8080");

  // A hostname a home already maps is refused; the set stays as it was.
  SystemRoute taken = own;
  taken.hostname = "app.example.com";
  EXPECT_EQ(code_of(store_->system_routes_set(admin_, {own, taken})), StateErrc::kConflict);
  ASSERT_EQ(reader->lookup("vps.example.com", route), LookupStatus::kFound);
  SystemRoute wild = own;
  wild.hostname = "*.example.net";
  EXPECT_EQ(code_of(store_->system_routes_set(admin_, {wild})), StateErrc::kInvalid);

  // The PROXY v2 flag reaches the route table and survives a sync.
  SystemRoute proxied = own;
  proxied.proxy_v2 = true;
  ASSERT_OK(store_->system_routes_set(admin_, {proxied}));
  ASSERT_EQ(reader->lookup("vps.example.com", route), LookupStatus::kFound);
  EXPECT_TRUE(route.has_flag(kRouteProxyV2));
  ASSERT_OK(store_->sync_routes(admin_));
  ASSERT_EQ(reader->lookup("vps.example.com", route), LookupStatus::kFound);
  EXPECT_TRUE(route.has_flag(kRouteProxyV2));
  ASSERT_TRUE(store_->system_routes_list()->front().proxy_v2);
  ASSERT_OK(store_->system_routes_set(admin_, {own}));
  ASSERT_EQ(reader->lookup("vps.example.com", route), LookupStatus::kFound);
  EXPECT_FALSE(route.has_flag(kRouteProxyV2));

  // Replacing the set removes the route of a hostname no longer in it.
  SystemRoute other = own;
  other.hostname = "api.example.com";
  other.http_target = {};
  ASSERT_OK(store_->system_routes_set(admin_, {other}));
  EXPECT_EQ(reader->lookup("vps.example.com", route), LookupStatus::kNotFound);
  ASSERT_EQ(reader->lookup("api.example.com", route), LookupStatus::kFound);
  EXPECT_TRUE(route.http_target.empty());
  ASSERT_OK(store_->mappings_create(alice_, a.id, mapping("vps.example.com", {20001})));
  reader = Result<RouteTable::Reader>(Error(EIO, "closed"));
  table = Result<RouteTable>(Error(EIO, "closed"));
  EXPECT_EQ(routes_now(), routes_expected());
}

TEST_F(StateStoreTest, AuditRecordsEveryChange) {
  Home a = make_home(alice_, "A");
  ASSERT_OK(store_->mappings_create(alice_, a.id, mapping("app.example.com", {20000})));
  EXPECT_ERR(store_->login("alice", "wrong-password", "198.51.100.77"));
  EXPECT_EQ(code_of(store_->audit_list(alice_)), StateErrc::kForbidden);
  auto records = store_->audit_list(admin_);
  ASSERT_OK(records);
  ASSERT_EQ(records->size(), 5u);  // users.add x2, homes.create, mappings.create, login.failed
  const AuditRecord& newest = (*records)[0];
  EXPECT_EQ(newest.action, "login.failed");
  EXPECT_EQ(newest.source, "198.51.100.77");
  EXPECT_EQ((*records)[1].action, "mappings.create");
  EXPECT_EQ((*records)[1].actor, "alice");
  EXPECT_EQ((*records)[1].source, "192.0.2.1");
  EXPECT_EQ((*records)[1].target, "app.example.com");
  EXPECT_EQ((*records)[1].at, now_);
  EXPECT_EQ((*records)[2].action, "homes.create");
  EXPECT_EQ((*records)[4].action, "users.add");
  EXPECT_EQ((*records)[4].actor, "cli");
  EXPECT_GT((*records)[0].seq, (*records)[1].seq);
  auto page = store_->audit_list(admin_, 2, (*records)[1].seq);
  ASSERT_OK(page);
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].action, "homes.create");
  // A refused change leaves no record.
  EXPECT_ERR(store_->mappings_create(bob_, a.id, mapping("x.example.com", {20000})));
  EXPECT_EQ(store_->audit_list(admin_)->size(), 5u);
}

TEST_F(StateStoreTest, AuthorizedKeysLine) {
  std::string key_line = Keys::make("ed25519");
  auto home = store_->homes_create(alice_, "A", key_line);
  ASSERT_OK(home);
  const std::string& type = home->key.type;
  const std::string& blob = home->key.base64;
  auto line = authorized_keys_line(dir_.path(), "cloudlink", type, blob);
  ASSERT_OK(line);
  ASSERT_TRUE(line->has_value());
  std::string expected = "restrict,port-forwarding,permitopen=\"192.0.2.1:9\"";
  for (int p = 20000; p < 20010; ++p)
    expected += ",permitlisten=\"127.0.0.1:" + std::to_string(p) + "\"";
  EXPECT_EQ(**line, expected + " " + type + " " + blob);
  // Other user, other key, wrong type: nothing.
  EXPECT_FALSE(authorized_keys_line(dir_.path(), "root", type, blob)->has_value());
  EXPECT_FALSE(authorized_keys_line(dir_.path(), "cloudlink", "ssh-rsa", blob)->has_value());
  std::string other = Keys::make("ed25519");
  EXPECT_FALSE(
      authorized_keys_line(dir_.path(), "cloudlink", type, parse_public_key_line(other)->base64)
          ->has_value());
  EXPECT_FALSE(authorized_keys_line(dir_.path() + "/none", "cloudlink", type, blob)->has_value());
  // Key rotation: the old key is out, the new one in.
  ASSERT_OK(store_->homes_rotate_key(alice_, home->id, other));
  EXPECT_FALSE(authorized_keys_line(dir_.path(), "cloudlink", type, blob)->has_value());
  EXPECT_TRUE(
      authorized_keys_line(dir_.path(), "cloudlink", type, parse_public_key_line(other)->base64)
          ->has_value());
  // An inactive owner's home gets nothing.
  ASSERT_OK(store_->signup("carol", "carol-password", "x"));
  auto carols = store_->homes_create(admin_, "C", key_line, "carol");
  ASSERT_OK(carols);
  EXPECT_EQ(carols->owner, "carol");
  EXPECT_FALSE(authorized_keys_line(dir_.path(), "cloudlink", type, blob)->has_value());
  ASSERT_OK(store_->users_approve(admin_, "carol"));
  EXPECT_TRUE(authorized_keys_line(dir_.path(), "cloudlink", type, blob)->has_value());
  ASSERT_OK(store_->homes_delete(admin_, carols->id));
  EXPECT_FALSE(authorized_keys_line(dir_.path(), "cloudlink", type, blob)->has_value());
}

TEST_F(StateStoreTest, ConcurrentWritersKeepRoutesInStep) {
  Home a = make_home(alice_, "A");
  // Toggles three hostnames between two writers: threads of one store here, and another
  // process with its own store (LMDB wants one environment handle per process, so fork).
  auto churn = [&](StateStore& store, uint16_t port) {
    for (int i = 0; i < 30; ++i) {
      std::string host = "t" + std::to_string(i % 3) + ".example.com";
      if (!store.mappings_create(alice_, a.id, mapping(host, {port})).ok()) {
        (void)store.mappings_delete(alice_, a.id, host);
      }
    }
  };
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto other = StateStore::open(dir_.path(), options());
    if (other) churn(**other, 20001);
    ::_exit(other ? 0 : 1);
  }
  std::thread t([&] { churn(*store_, 20002); });
  churn(*store_, 20003);
  t.join();
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(routes_now(), routes_expected());
}

TEST_F(StateStoreTest, DeactivatedUserLosesLoginTokensAndKeysUntilApproved) {
  auto home = store_->homes_create(alice_, "A", Keys::make("ed25519"));
  ASSERT_OK(home);
  auto token = store_->login("alice", "alice-password", "192.0.2.1");
  ASSERT_OK(token);
  EXPECT_EQ(code_of(store_->users_deactivate(bob_, "alice")), StateErrc::kForbidden);
  EXPECT_EQ(code_of(store_->users_deactivate(admin_, "nobody")), StateErrc::kNotFound);
  Caller root{"root", Role::kAdmin, "192.0.2.9"};
  EXPECT_EQ(code_of(store_->users_deactivate(root, "root")), StateErrc::kForbidden);

  auto off = store_->users_deactivate(admin_, "alice");
  ASSERT_OK(off);
  EXPECT_FALSE(off->active);
  EXPECT_EQ(store_->audit_list(admin_, 1)->front().action, "users.deactivate");
  EXPECT_EQ(code_of(store_->check_token(token->token)), StateErrc::kUnauthorized);
  EXPECT_EQ(code_of(store_->login("alice", "alice-password", "192.0.2.1")),
            StateErrc::kUnauthorized);
  auto line = authorized_keys_line(dir_.path(), "cloudlink", home->key.type, home->key.base64);
  ASSERT_OK(line);
  EXPECT_FALSE(line->has_value());

  ASSERT_OK(store_->users_approve(admin_, "alice"));
  ASSERT_OK(store_->login("alice", "alice-password", "192.0.2.1"));
  line = authorized_keys_line(dir_.path(), "cloudlink", home->key.type, home->key.base64);
  ASSERT_OK(line);
  EXPECT_TRUE(line->has_value());
  // The old token stays revoked.
  EXPECT_EQ(code_of(store_->check_token(token->token)), StateErrc::kUnauthorized);
}

}  // namespace
}  // namespace cloudlink::state

namespace cloudlink::state {
namespace {

TEST(PrintableText, KeepsUtf8AndEscapesEveryOtherByte) {
  EXPECT_EQ(printable_text("alice"), "alice");
  EXPECT_EQ(printable_text("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(printable_text(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(printable_text("a\\b"), "a\\x5cb");  // so the escapes are unambiguous
  EXPECT_EQ(printable_text("\xc3\xa9t\xc3\xa9"), "\xc3\xa9t\xc3\xa9");
  EXPECT_EQ(printable_text("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  EXPECT_EQ(printable_text("\xe2\x82"), "\\xe2\\x82");           // truncated
  std::string longest = printable_text(std::string(5000, 'a'));
  EXPECT_LE(longest.size(), kMaxAuditField);
  EXPECT_EQ(longest.substr(longest.size() - 3), "...");
  // Every single byte value, and every pair, encodes and round-trips through a record.
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; b += 17) {
      std::string bytes{static_cast<char>(a), static_cast<char>(b)};
      AuditRecord record{1, 2, bytes, bytes, bytes, bytes, bytes};
      auto decoded = decode_audit(be64_key(1), encode(record));
      ASSERT_TRUE(decoded.ok()) << a << " " << b;
      EXPECT_EQ(decoded->target, printable_text(bytes));
    }
  }
}

TEST_F(StateStoreTest, RegistrationModesAndInvitations) {
  StoreOptions o = options();
  o.registration = RegistrationMode::kClosed;
  store_.reset();
  store_ = std::move(StateStore::open(dir_.path(), o).value());
  EXPECT_EQ(code_of(store_->signup("carol", "carol-password", "198.51.100.1")),
            StateErrc::kForbidden);
  EXPECT_EQ(code_of(store_->invitations_create(alice_)), StateErrc::kForbidden);
  auto issued = store_->invitations_create(admin_, 60);
  ASSERT_OK(issued);
  auto carol = store_->signup("carol", "carol-password", "198.51.100.1", issued->code);
  ASSERT_OK(carol);
  EXPECT_TRUE(carol->active);
  EXPECT_EQ(code_of(store_->signup("dave", "dave-password", "198.51.100.1", issued->code)),
            StateErrc::kForbidden);  // single use
  auto late = store_->invitations_create(admin_, 60);
  ASSERT_OK(late);
  now_ += 61;
  EXPECT_EQ(code_of(store_->signup("erin", "erin-password", "198.51.100.1", late->code)),
            StateErrc::kForbidden);  // expired
  auto listed = store_->invitations_list(admin_);
  ASSERT_OK(listed);
  EXPECT_TRUE(listed->empty());  // the expired one is gone

  o.registration = RegistrationMode::kOpen;
  o.signups_per_source = 2;
  store_.reset();
  store_ = std::move(StateStore::open(dir_.path(), o).value());
  auto open = store_->signup("frank", "frank-password", "198.51.100.2");
  ASSERT_OK(open);
  EXPECT_TRUE(open->active);
  ASSERT_OK(store_->signup("gina", "gina-password", "198.51.100.2"));
  auto limited = store_->signup("hank", "hank-password", "198.51.100.2");
  EXPECT_EQ(code_of(limited), StateErrc::kThrottled);
  EXPECT_GT(retry_after_seconds(limited.error()), 0);
  EXPECT_OK(store_->signup("hank", "hank-password", "198.51.100.3"));
}

TEST_F(StateStoreTest, QuotasCountHomesPortBlocksAndMappings) {
  StoreOptions o = options();
  o.default_quota = {2, 2, 2};
  store_.reset();
  store_ = std::move(StateStore::open(dir_.path(), o).value());
  Home one = make_home(alice_, "one");
  make_home(alice_, "two");
  auto third = store_->homes_create(alice_, "three", Keys::make("ed25519"));
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(http_status(third.error()), 409);
  EXPECT_EQ(third.error().context(), "quota: homes (2) reached for alice");
  // An admin acting for alice is not held to it.
  EXPECT_OK(store_->homes_create(admin_, "by-admin", Keys::make("ed25519"), "alice"));
  ASSERT_OK(store_->mappings_create(alice_, one.id, mapping("a.example.com", {one.port_first})));
  ASSERT_OK(store_->mappings_create(alice_, one.id, mapping("b.example.com", {one.port_first})));
  auto over = store_->mappings_create(alice_, one.id, mapping("c.example.com", {one.port_first}));
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().context(), "quota: mappings (2) reached for alice");
  auto view = store_->quota_get(alice_, "alice");
  ASSERT_OK(view);
  EXPECT_EQ(view->used.homes, 3u);
  EXPECT_EQ(view->used.port_blocks, 3u);
  EXPECT_EQ(view->used.mappings, 2u);
  EXPECT_EQ(code_of(store_->quota_get(alice_, "bob")), StateErrc::kForbidden);
  EXPECT_EQ(code_of(store_->quota_set(alice_, "alice", {5, 5, 5})), StateErrc::kForbidden);
  EXPECT_EQ(code_of(store_->quota_set(admin_, "nobody", {5, 5, 5})), StateErrc::kNotFound);
  ASSERT_OK(store_->quota_set(admin_, "alice", {std::nullopt, 3u, std::nullopt}));
  EXPECT_OK(store_->mappings_create(alice_, one.id, mapping("c.example.com", {one.port_first})));
}

TEST_F(StateStoreTest, QuarantinedBlocksCountAgainstTheirOwnersPortBlockQuota) {
  // Deleting and re-creating homes must not take more of the range than the quota, even for
  // the quarantine's length: the deleted home's block counts against its owner until released.
  quarantine_seconds_ = 30;
  StoreOptions o = options();
  o.default_quota = {5, 20, 2};
  store_.reset();
  store_ = std::move(StateStore::open(dir_.path(), o).value());
  make_home(alice_, "A");
  Home b = make_home(alice_, "B");
  ASSERT_OK(store_->homes_delete(alice_, b.id));
  auto again = store_->homes_create(alice_, "C", Keys::make("ed25519"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(http_status(again.error()), 409);
  EXPECT_EQ(again.error().context(), "quota: port_blocks (2) reached for alice");
  EXPECT_EQ(store_->quota_get(alice_, "alice")->used.port_blocks, 2u);
  make_home(bob_, "bob's");  // another user's quota is its own
  now_ += 30;                // quarantine over, nothing listens: released by the next create
  Home c = make_home(alice_, "C");
  EXPECT_EQ(c.port_first, 20010);
  EXPECT_EQ(store_->quota_get(alice_, "alice")->used.port_blocks, 2u);
}

TEST_F(StateStoreTest, HostnamePolicyRefusesSuffixesLiteralsAndOtherZones) {
  StoreOptions o = options();
  o.hostname_policy.allowed_domains = {"example.com", "Tenant.TEST"};
  store_.reset();
  store_ = std::move(StateStore::open(dir_.path(), o).value());
  Home home = make_home(alice_, "names");
  auto try_map = [&](const std::string& host) {
    return store_->mappings_create(alice_, home.id, mapping(host, {home.port_first}));
  };
  for (const char* refused : {"co.uk", "*.co.uk", "github.io", "*.github.io", "127.0.0.1", "127.1",
                              "0x7f.1", "2130706433", "1.2.3.4.5", "10.0.0.0x1"}) {
    auto result = try_map(refused);
    EXPECT_EQ(code_of(result), StateErrc::kInvalid) << refused;
  }
  auto outside = try_map("app.example.org");
  EXPECT_EQ(code_of(outside), StateErrc::kForbidden);
  EXPECT_ERR_WITH(outside, "allowed-domains");
  EXPECT_EQ(code_of(try_map("notexample.com")), StateErrc::kForbidden);
  for (const char* fine : {"example.com", "app.example.com", "*.example.com", "a.tenant.test"}) {
    EXPECT_OK(try_map(fine)) << fine;
  }
  EXPECT_ERR_WITH(HostnamePolicy::make({{"*.example.com"}}), "allowed-domains");
}

TEST_F(StateStoreTest, TheMapGrowsWhenFullAndStopsAtItsMaximum) {
  StoreOptions o = options();
  o.map = {256 * 1024, 4 * 1024 * 1024};
  o.default_quota = {100, 100000, 100};
  TempDir small;
  auto opened = StateStore::open(small.path(), o);
  ASSERT_OK(opened);
  auto& store = *opened.value();
  ASSERT_OK(store.users_add(admin_, "alice", "alice-password", Role::kUser, true));
  auto home = store.homes_create(alice_, "grow", Keys::make("ed25519"));
  ASSERT_OK(home);
  const size_t before = store.storage_usage()->state.map_bytes;
  EXPECT_EQ(before, 256u * 1024);
  Result<Mapping> last = Error(EIO, "none");
  int created = 0;
  for (; created < 20000; ++created) {
    last = store.mappings_create(
        alice_, home->id,
        mapping("m" + std::to_string(created) + std::string(50, 'x') + ".example.com",
                {home->port_first}));
    if (!last.ok()) break;
  }
  ASSERT_FALSE(last.ok()) << "never full at 4 MiB";
  EXPECT_EQ(http_status(last.error()), 507) << last.error().message();
  EXPECT_ERR_WITH(last, "map-size-max");
  auto usage = store.storage_usage();
  ASSERT_OK(usage);
  EXPECT_EQ(usage->state.map_bytes, 4u * 1024 * 1024);
  EXPECT_GE(usage->state.growths, 4u);
  // Everything acknowledged is there, and the routes followed every one of them.
  auto listed = store.mappings_list(alice_, home->id);
  ASSERT_OK(listed);
  EXPECT_EQ(listed->size(), static_cast<size_t>(created));
  EXPECT_EQ(store.expected_routes()->size(), static_cast<size_t>(created));
  // Reads still answer at the maximum.
  EXPECT_OK(store.authenticate("alice", "alice-password", "192.0.2.9"));
}

TEST_F(StateStoreTest, AuditRetentionPrunesByCountAndAge) {
  StoreOptions o = options();
  o.audit_retention = {50, 3600};
  store_.reset();
  store_ = std::move(StateStore::open(dir_.path(), o).value());
  for (int i = 0; i < 200; ++i) ASSERT_OK(store_->revoke_user_tokens(admin_, "alice"));
  auto usage = store_->storage_usage();
  ASSERT_OK(usage);
  EXPECT_LE(usage->audit_records, 50u + AuditRetention::kInlineBatch);
  ASSERT_OK(store_->maintain());
  EXPECT_EQ(store_->storage_usage()->audit_records, 50u);
  now_ += 3601;
  ASSERT_OK(store_->revoke_user_tokens(admin_, "alice"));
  ASSERT_OK(store_->maintain());
  EXPECT_EQ(store_->storage_usage()->audit_records, 1u);
}

}  // namespace
}  // namespace cloudlink::state
