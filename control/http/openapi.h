// The OpenAPI 3.0 document of the control API, built from the registered routes: every
// (method, pattern) is an operation, its path parameters come from the pattern, its request
// body schema from the route's api::BodySchema, its responses from the route plus the ones
// the server itself gives. Served at GET /api/openapi.json.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "control/api/json_body.h"
#include "control/http/route.h"

namespace cloudlink::control::http {

struct ApiInfo {
  std::string title = "cloudlink-control API";
  std::string version = "0.1.0";
};

// The JSON Schema (OpenAPI 3.0 dialect) of a body: an object with exactly these properties.
nlohmann::json body_json_schema(const api::BodySchema& schema);

// "getApiHomesById"-style, unique per (method, pattern).
std::string operation_id(const Route& route);

nlohmann::json build_openapi(const std::vector<Route>& routes, const ApiInfo& info);

}  // namespace cloudlink::control::http
