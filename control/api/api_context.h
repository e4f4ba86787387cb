// What every REST handler of the control API shares: the state store, the SSH endpoint homes
// are told to use, and the two steps each handler starts and ends with — who is calling
// (the bearer token checked against the store) and how a store error becomes a response.
#pragma once

#include "common/result.h"
#include "control/api/views.h"
#include "control/http/message.h"
#include "control/state/state_store.h"

namespace cloudlink::control::api {

struct ApiContext {
  state::StateStore& store;
  SshEndpoint ssh;
};

// The caller behind the request's bearer token, with the request's source address; an
// unauthorized error when there is no valid token.
Result<state::Caller> caller_of(const ApiContext& context, const http::Request& request);

// The JSON error for a store error: its status and code (control/state/errors.h) and its
// message; an error that is not the store's own (LMDB, I/O) is logged and answered as a 500
// without its details.
http::Response error_response(const Error& error);

}  // namespace cloudlink::control::api
