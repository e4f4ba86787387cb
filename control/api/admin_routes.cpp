// Admin operations on the whole system: the routes table the dataplane reads, rebuilding it
// from state, and the audit log.
#include "control/api/api_routes.h"
#include "control/api/path_params.h"
#include "control/route_format.h"

namespace cloudlink::control::api {
namespace {

using http::Method;
using http::Request;
using http::Response;
using http::Route;

constexpr int64_t kMaxAuditPage = 1000;
constexpr int64_t kDefaultAuditPage = 100;
// Expiry times: unix seconds up to the year 9999; 0 lifts the expiry.
constexpr int64_t kMaxExpiry = 253402300799;

Route set_user_expiry(const ApiContext& context) {
  Route route;
  route.method = Method::kPut;
  route.pattern = "/api/admin/users/{name}/expiry";
  route.summary =
      "Set when a user expires (admin): from then its logins, tokens and homes' SSH keys are "
      "refused, its sessions cut, its tokens revoked and its homes' routes withdrawn";
  route.tag = "admin";
  route.requires_auth = true;
  route.body = BodySchema{
      {int_field("expires_at", 0, kMaxExpiry, true, "unix seconds; 0: never (lifts an expiry)")}};
  route.responses = {{200, "The user"},
                     {400, "The name cannot be a username, or a bad time"},
                     {403, "The caller is not an admin, or names itself"},
                     {404, "No such user"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto name = username_param(request);
    if (!name) return error_response(name.error());
    auto user =
        context.store.users_set_expiry(*caller, *name, *request.body().integer("expires_at"));
    if (!user) return error_response(user.error());
    return Response::ok(user_json(*user));
  };
  return route;
}

Route set_home_expiry(const ApiContext& context) {
  Route route;
  route.method = Method::kPut;
  route.pattern = "/api/admin/homes/{id}/expiry";
  route.summary =
      "Set when a home expires (admin): from then its SSH key is refused, its sessions cut and "
      "its routes withdrawn; the home and its ports stay";
  route.tag = "admin";
  route.requires_auth = true;
  route.body = BodySchema{
      {int_field("expires_at", 0, kMaxExpiry, true, "unix seconds; 0: never (lifts an expiry)")}};
  route.responses = {{200, "The home"},
                     {400, "A bad time"},
                     {403, "The caller is not an admin"},
                     {404, "No such home"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto home = context.store.homes_set_expiry(*caller, std::string(request.param("id")),
                                               *request.body().integer("expires_at"));
    if (!home) return error_response(home.error());
    return Response::ok(home_json(*home, context.ssh));
  };
  return route;
}

Route list_routes(const ApiContext& context) {
  Route route;
  route.pattern = "/api/admin/routes";
  route.summary = "The routes environment as the dataplane reads it now (admin)";
  route.tag = "admin";
  route.requires_auth = true;
  route.responses = {{200, "An array of {host, targets, http_target, flags, home}"},
                     {403, "The caller is not an admin"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto routes = context.store.routes_list(*caller);
    if (!routes) return error_response(routes.error());
    return Response::ok(route_entries_json(*routes));
  };
  return route;
}

Route sync_routes(const ApiContext& context) {
  Route route;
  route.method = Method::kPost;
  route.pattern = "/api/admin/routes/sync";
  route.summary = "Rebuild the routes environment from state in one transaction (admin)";
  route.tag = "admin";
  route.requires_auth = true;
  route.responses = {{200, "{\"routes\": how many routes it holds now}"},
                     {403, "The caller is not an admin"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto count = context.store.sync_routes(*caller);
    if (!count) return error_response(count.error());
    return Response::ok({{"routes", *count}});
  };
  return route;
}

Route list_audit(const ApiContext& context) {
  Route route;
  route.pattern = "/api/admin/audit";
  route.summary = "Audit records, newest first (admin)";
  route.tag = "admin";
  route.requires_auth = true;
  route.query = {{"limit", 1, kMaxAuditPage, "at most this many records (default 100)"},
                 {"before", 1, INT64_MAX, "only records with seq below this (the next page)"}};
  route.responses = {{200, "An array of {seq, at, actor, source, action, target, detail}"},
                     {403, "The caller is not an admin"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto limit = request.query("limit").value_or(kDefaultAuditPage);
    auto before = request.query("before").value_or(0);
    auto records = context.store.audit_list(*caller, static_cast<size_t>(limit),
                                            static_cast<uint64_t>(before));
    if (!records) return error_response(records.error());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& record : *records) out.push_back(audit_json(record));
    return Response::ok(out);
  };
  return route;
}

}  // namespace

Result<void> add_admin_routes(http::Server& server, const ApiContext& context) {
  for (auto make : {list_routes, sync_routes, list_audit, set_user_expiry, set_home_expiry}) {
    if (auto added = server.add(make(context)); !added) return added;
  }
  return ok();
}

Result<void> add_api_routes(http::Server& server, const ApiContext& context) {
  if (auto added = add_account_routes(server, context); !added) return added;
  if (auto added = add_home_routes(server, context); !added) return added;
  if (auto added = add_mapping_routes(server, context); !added) return added;
  if (auto added = add_tenant_routes(server, context); !added) return added;
  return add_admin_routes(server, context);
}

}  // namespace cloudlink::control::api
