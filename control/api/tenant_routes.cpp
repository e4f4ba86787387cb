// Tenancy: sign-up invitations (admin) and per-user quotas (the user reads its own, an admin
// reads and sets anyone's).
#include "control/api/api_routes.h"
#include "control/api/path_params.h"

namespace cloudlink::control::api {
namespace {

using http::Method;
using http::Request;
using http::Response;
using http::Route;

constexpr int64_t kMaxInvitationSeconds = 366 * 24 * 3600;

Route create_invitation(const ApiContext& context) {
  Route route;
  route.method = Method::kPost;
  route.pattern = "/api/admin/invitations";
  route.summary = "Create a single-use sign-up invitation; its code is shown once (admin)";
  route.tag = "admin";
  route.requires_auth = true;
  route.body = BodySchema{{int_field("expires_in", 1, kMaxInvitationSeconds, false,
                                     "seconds it stays valid (default 7 days)")}};
  route.responses = {{201, "{\"id\",\"code\",\"created_by\",\"created_at\",\"expires_at\"}"},
                     {403, "The caller is not an admin"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    int64_t ttl = request.body().integer("expires_in").value_or(state::kDefaultInvitationSeconds);
    auto issued = context.store.invitations_create(*caller, ttl);
    if (!issued) return error_response(issued.error());
    return Response::ok(invitation_json(*issued), 201);
  };
  return route;
}

Route list_invitations(const ApiContext& context) {
  Route route;
  route.pattern = "/api/admin/invitations";
  route.summary = "Unused, unexpired invitations, without their codes (admin)";
  route.tag = "admin";
  route.requires_auth = true;
  route.responses = {{200, "An array of {id, created_by, created_at, expires_at}"},
                     {403, "The caller is not an admin"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto list = context.store.invitations_list(*caller);
    if (!list) return error_response(list.error());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& invitation : *list) out.push_back(invitation_json(invitation));
    return Response::ok(out);
  };
  return route;
}

Route delete_invitation(const ApiContext& context) {
  Route route;
  route.method = Method::kDelete;
  route.pattern = "/api/admin/invitations/{invitation}";
  route.summary = "Revoke an unused invitation (admin)";
  route.tag = "admin";
  route.requires_auth = true;
  route.responses = {
      {204, "Revoked"}, {403, "The caller is not an admin"}, {404, "No such invitation"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto deleted =
        context.store.invitations_delete(*caller, std::string(request.param("invitation")));
    if (!deleted) return error_response(deleted.error());
    return Response::no_content();
  };
  return route;
}

Route my_quota(const ApiContext& context) {
  Route route;
  route.pattern = "/api/me/quota";
  route.summary = "The caller's quota: limits, what it uses, and its own values";
  route.tag = "accounts";
  route.requires_auth = true;
  route.responses = {{200, "{\"username\",\"limits\",\"used\",\"own\"}"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto view = context.store.quota_get(*caller, caller->username);
    if (!view) return error_response(view.error());
    return Response::ok(quota_json(*view));
  };
  return route;
}

Route get_quota(const ApiContext& context) {
  Route route;
  route.pattern = "/api/admin/users/{name}/quota";
  route.summary = "A user's quota: limits, what it uses, and its own values (admin)";
  route.tag = "admin";
  route.requires_auth = true;
  route.responses = {{200, "{\"username\",\"limits\",\"used\",\"own\"}"},
                     {400, "The name cannot be a username"},
                     {403, "The caller is not an admin"},
                     {404, "No such user"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto name = username_param(request);
    if (!name) return error_response(name.error());
    if (!caller->is_admin()) {
      return error_response(state::forbidden("reading another user's quota needs an admin"));
    }
    auto view = context.store.quota_get(*caller, *name);
    if (!view) return error_response(view.error());
    return Response::ok(quota_json(*view));
  };
  return route;
}

Route set_quota(const ApiContext& context) {
  Route route;
  route.method = Method::kPut;
  route.pattern = "/api/admin/users/{name}/quota";
  route.summary = "Set a user's own quota values; a field left out follows the default (admin)";
  route.tag = "admin";
  route.requires_auth = true;
  const int64_t max = state::kMaxQuotaValue;
  route.body = BodySchema{{int_field("homes", 0, max, false, "homes it may hold"),
                           int_field("mappings", 0, max, false, "mappings across its homes"),
                           int_field("port_blocks", 0, max, false, "tunnel port blocks")}};
  route.responses = {{200, "The user's quota after the change"},
                     {400, "The name cannot be a username"},
                     {403, "The caller is not an admin"},
                     {404, "No such user"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto name = username_param(request);
    if (!name) return error_response(name.error());
    state::QuotaOverride own;
    const auto& body = request.body();
    if (auto v = body.integer("homes")) own.homes = static_cast<uint32_t>(*v);
    if (auto v = body.integer("mappings")) own.mappings = static_cast<uint32_t>(*v);
    if (auto v = body.integer("port_blocks")) own.port_blocks = static_cast<uint32_t>(*v);
    auto view = context.store.quota_set(*caller, *name, own);
    if (!view) return error_response(view.error());
    return Response::ok(quota_json(*view));
  };
  return route;
}

}  // namespace

Result<void> add_tenant_routes(http::Server& server, const ApiContext& context) {
  for (auto make :
       {create_invitation, list_invitations, delete_invitation, my_quota, get_quota, set_quota}) {
    if (auto added = server.add(make(context)); !added) return added;
  }
  return ok();
}

}  // namespace cloudlink::control::api
