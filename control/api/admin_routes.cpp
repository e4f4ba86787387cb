// Admin operations on the whole system: the routes table the dataplane reads, rebuilding it
// from state, and the audit log.
#include "control/api/api_routes.h"
#include "control/route_format.h"

namespace cloudlink::control::api {
namespace {

using http::Method;
using http::Request;
using http::Response;
using http::Route;

constexpr int64_t kMaxAuditPage = 1000;
constexpr int64_t kDefaultAuditPage = 100;

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
  for (auto make : {list_routes, sync_routes, list_audit}) {
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
