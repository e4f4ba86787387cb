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
  request.set_user(caller->username);
  return caller;
}

http::Response error_response(const Error& error) {
  const int status = state::http_status(error);
  if (status >= 500 && error.code().category() != state::state_category()) {
    log_error("control API: %s", error.message().c_str());
    return http::Response::error(status, state::error_code_name(error), "internal error");
  }
  // The store's own 5xx (busy, storage full) say what is wrong; the operator sees them too.
  if (status >= 500) log_error("control API: %s", error.message().c_str());
  http::Response response =
      http::Response::error(status, state::error_code_name(error), error.context());
  if (status == 401) response.headers.emplace_back("WWW-Authenticate", "Bearer");
  if (int64_t seconds = state::retry_after_seconds(error); seconds > 0) {
    response.headers.emplace_back("Retry-After", std::to_string(seconds));
  }
  return response;
}

}  // namespace cloudlink::control::api
