// The control plane's REST API: accounts, homes, mappings and the admin operations, each a
// Route (control/http/route.h) whose handler calls the state store with the caller's
// identity. Access rules live in the store; these handlers only translate JSON to calls and
// results (or errors) back to JSON.
#pragma once

#include "common/result.h"
#include "control/api/api_context.h"
#include "control/http/server.h"

namespace cloudlink::control::api {

// POST /api/signup, /api/login, /api/logout; GET /api/me; the admin's user operations.
Result<void> add_account_routes(http::Server& server, const ApiContext& context);
// /api/homes and /api/homes/{id}, its key.
Result<void> add_home_routes(http::Server& server, const ApiContext& context);
// /api/homes/{id}/mappings and /api/homes/{id}/mappings/{hostname}.
Result<void> add_mapping_routes(http::Server& server, const ApiContext& context);
// /api/admin/routes, /api/admin/routes/sync, /api/admin/audit.
Result<void> add_admin_routes(http::Server& server, const ApiContext& context);

// /api/admin/invitations, /api/me/quota, /api/admin/users/{name}/quota.
Result<void> add_tenant_routes(http::Server& server, const ApiContext& context);

// All of the above.
Result<void> add_api_routes(http::Server& server, const ApiContext& context);

}  // namespace cloudlink::control::api
