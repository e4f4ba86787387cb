// Accounts: sign-up (inactive until an admin approves), login for a bearer token, logout,
// who-am-I, and the admin's list / approve / revoke-tokens.
#include "control/api/api_routes.h"
#include "control/api/path_params.h"

namespace cloudlink::control::api {
namespace {

using http::Method;
using http::Request;
using http::Response;
using http::Route;

constexpr size_t kMaxUsername = 32;
constexpr size_t kMaxPassword = 1024;

BodySchema credentials_schema() {
  return {{string_field("username", kMaxUsername, true, "1 to 32 of a-z 0-9 . _ -"),
           string_field("password", kMaxPassword, true, "8 to 1024 bytes")}};
}

Route signup(const ApiContext& context) {
  Route route;
  route.method = Method::kPost;
  route.pattern = "/api/signup";
  route.summary =
      "Create a user: active at once (registration open, or with an invitation), else inactive "
      "until an admin approves it (approval); closed registration needs an invitation";
  route.tag = "accounts";
  route.body = credentials_schema();
  route.body->fields.push_back(string_field("invitation", state::kMaxInvitationCode, false,
                                            "a code from an admin's invitation (single use)"));
  route.responses = {{201, "The user, active or not"},
                     {400, "A field is invalid (the message names it)"},
                     {403, "Registration is closed and no valid invitation was given"},
                     {409, "The username is taken"},
                     {429, "Too many sign-ups from this address; see Retry-After"},
                     {503, "Too many password hashes at once; see Retry-After"}};
  route.handler = [&context](const Request& request) {
    auto user =
        context.store.signup(std::string(*request.body().string("username")),
                             std::string(*request.body().string("password")), request.source_ip(),
                             std::string(request.body().string("invitation").value_or("")));
    if (!user) return error_response(user.error());
    return Response::ok(user_json(*user), 201);
  };
  return route;
}

Route login(const ApiContext& context) {
  Route route;
  route.method = Method::kPost;
  route.pattern = "/api/login";
  route.summary = "Exchange an active user's password for a bearer token";
  route.tag = "accounts";
  route.body = credentials_schema();
  route.responses = {{200, "{\"token\",\"expires_at\" (unix seconds),\"username\",\"role\"}"},
                     {401, "Wrong username or password, or the user is not active yet"},
                     {429, "Too many failed logins for this user or address; see Retry-After"},
                     {503, "Too many password checks at once; see Retry-After"}};
  route.handler = [&context](const Request& request) {
    auto issued =
        context.store.login(std::string(*request.body().string("username")),
                            std::string(*request.body().string("password")), request.source_ip());
    if (!issued) return error_response(issued.error());
    request.set_user(issued->identity.username);
    return Response::ok({{"token", issued->token},
                         {"expires_at", issued->expires_at},
                         {"username", issued->identity.username},
                         {"role", state::role_name(issued->identity.role)}});
  };
  return route;
}

Route logout(const ApiContext& context) {
  Route route;
  route.method = Method::kPost;
  route.pattern = "/api/logout";
  route.summary = "Revoke the bearer token of this request";
  route.tag = "accounts";
  route.requires_auth = true;
  route.responses = {{204, "The token is revoked"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto revoked = context.store.revoke_token(*caller, *request.bearer_token());
    if (!revoked) return error_response(revoked.error());
    return Response::no_content();
  };
  return route;
}

Route me(const ApiContext& context) {
  Route route;
  route.pattern = "/api/me";
  route.summary = "The user behind the bearer token";
  route.tag = "accounts";
  route.requires_auth = true;
  route.responses = {{200, "{\"username\",\"role\"}"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    return Response::ok({{"username", caller->username}, {"role", state::role_name(caller->role)}});
  };
  return route;
}

Route list_users(const ApiContext& context) {
  Route route;
  route.pattern = "/api/admin/users";
  route.summary = "Every user (admin)";
  route.tag = "admin";
  route.requires_auth = true;
  route.responses = {{200, "An array of users"}, {403, "The caller is not an admin"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto users = context.store.users_list(*caller);
    if (!users) return error_response(users.error());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& user : *users) out.push_back(user_json(user));
    return Response::ok(out);
  };
  return route;
}

Route approve_user(const ApiContext& context) {
  Route route;
  route.method = Method::kPost;
  route.pattern = "/api/admin/users/{name}/approve";
  route.summary = "Activate a signed-up user (admin)";
  route.tag = "admin";
  route.requires_auth = true;
  route.responses = {{200, "The user, active"},
                     {400, "The name cannot be a username"},
                     {403, "The caller is not an admin"},
                     {404, "No such user"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto name = username_param(request);
    if (!name) return error_response(name.error());
    auto user = context.store.users_approve(*caller, *name);
    if (!user) return error_response(user.error());
    return Response::ok(user_json(*user));
  };
  return route;
}

Route deactivate_user(const ApiContext& context) {
  Route route;
  route.method = Method::kPost;
  route.pattern = "/api/admin/users/{name}/deactivate";
  route.summary = "Stop a user: no login, tokens revoked, its homes' keys refused (admin)";
  route.tag = "admin";
  route.requires_auth = true;
  route.responses = {{200, "The user, inactive"},
                     {400, "The name cannot be a username"},
                     {403, "The caller is not an admin, or names itself"},
                     {404, "No such user"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto name = username_param(request);
    if (!name) return error_response(name.error());
    auto user = context.store.users_deactivate(*caller, *name);
    if (!user) return error_response(user.error());
    return Response::ok(user_json(*user));
  };
  return route;
}

Route revoke_tokens(const ApiContext& context) {
  Route route;
  route.method = Method::kPost;
  route.pattern = "/api/admin/users/{name}/revoke-tokens";
  route.summary = "Revoke every token of a user (admin)";
  route.tag = "admin";
  route.requires_auth = true;
  route.responses = {{200, "{\"revoked\": how many tokens}"},
                     {400, "The name cannot be a username"},
                     {403, "The caller is not an admin"},
                     {404, "No such user"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto name = username_param(request);
    if (!name) return error_response(name.error());
    if (!caller->is_admin()) {
      return error_response(state::forbidden("revoking another user's tokens needs an admin"));
    }
    auto revoked = context.store.revoke_user_tokens(*caller, *name);
    if (!revoked) return error_response(revoked.error());
    return Response::ok({{"revoked", *revoked}});
  };
  return route;
}

}  // namespace

Result<void> add_account_routes(http::Server& server, const ApiContext& context) {
  for (auto make :
       {signup, login, logout, me, list_users, approve_user, deactivate_user, revoke_tokens}) {
    if (auto added = server.add(make(context)); !added) return added;
  }
  return ok();
}

}  // namespace cloudlink::control::api
