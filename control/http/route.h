// One operation of the control API as it is registered: method, path pattern, handler, and
// the description the OpenAPI document is built from (summary, request body schema, the
// responses it can give). Registration and documentation are one value, so they cannot drift.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "control/api/json_body.h"
#include "control/http/message.h"
#include "control/http/router.h"

namespace cloudlink::control::http {

using Handler = std::function<Response(const Request&)>;

struct ResponseDoc {
  int status = 200;
  std::string description;
};

// An integer query parameter (`?limit=50`). Values are checked before the handler runs: a
// query parameter the route does not declare, a repeated one, or a value that is not an
// integer in [min, max] gets 400 naming the parameter.
struct QueryParam {
  std::string name;
  int64_t min = 0;
  int64_t max = 0;
  std::string description;
};

struct Route {
  Method method = Method::kGet;
  std::string pattern;  // "/api/homes/{id}"
  std::string summary;
  // The JSON body the operation takes (checked before the handler runs; 400/415 otherwise).
  // Without one, a request that carries a body is refused.
  std::optional<api::BodySchema> body;
  std::vector<QueryParam> query;
  // Responses the handler gives; the server adds the ones it produces itself (400, 401,
  // 413, 415, 500) to the document.
  std::vector<ResponseDoc> responses;
  // The server answers 401 when no `Authorization: Bearer` token is present; checking the
  // token itself is the handler's job.
  bool requires_auth = false;
  std::string tag;  // OpenAPI tag ("accounts", "homes", ...)
  Handler handler;
};

}  // namespace cloudlink::control::http
