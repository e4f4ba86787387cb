#include "control/api/api_context.h"

#include "common/log.h"

namespace cloudlink::control::api {

Result<state::Caller> caller_of(const ApiContext& context, const http::Request& request) {
  if (!request.bearer_token()) {
    return state::unauthorized("this operation needs an Authorization: Bearer token");
  }
  auto caller = context.store.check_token(*request.bearer_token());
  if (!caller) return caller.error();
  caller->source = request.source_ip();
  return caller;
}

http::Response error_response(const Error& error) {
  const int status = state::http_status(error);
  if (status >= 500) {
    log_line("control API: %s", error.message().c_str());
    return http::Response::error(status, state::error_code_name(error), "internal error");
  }
  http::Response response =
      http::Response::error(status, state::error_code_name(error), error.context());
  if (status == 401) response.headers.emplace_back("WWW-Authenticate", "Bearer");
  return response;
}

}  // namespace cloudlink::control::api
