#include "control/api/serve_api.h"

#include "common/log.h"
#include "control/api/api_routes.h"

namespace cloudlink::control::api {

int run_api_serve(ApiServeOptions options) {
  auto store = state::StateStore::open(options.serve.data_dir, options.store);
  if (!store) {
    log_line("%s", store.error().message().c_str());
    return 1;
  }
  ApiContext context{**store, options.ssh};
  options.serve.add_routes = [&context](http::Server& server) {
    return add_api_routes(server, context);
  };
  return run_serve(options.serve);
}

}  // namespace cloudlink::control::api
