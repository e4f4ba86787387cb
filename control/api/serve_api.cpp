#include "control/api/serve_api.h"

#include "common/log.h"
#include "control/api/api_routes.h"
#include "control/api/home_certificates.h"
#include "control/api/upkeep.h"
#include "control/state/data_folder.h"

namespace cloudlink::control::api {

int run_api_serve(ApiServeOptions options) {
  // A data folder init never made is a configuration error (exit 2), not a new empty database.
  if (auto initialised = state::require_initialised(options.serve.data_dir); !initialised) {
    log_line("%s", initialised.error().context().c_str());
    return 2;
  }
  auto store = state::StateStore::open(options.serve.data_dir, options.store);
  if (!store) {
    log_error("%s", store.error().message().c_str());
    return 1;
  }
  ApiContext context{**store, options.ssh};
  std::unique_ptr<acme::OwnCertificate> own;
  std::unique_ptr<Upkeep> upkeep;
  std::unique_ptr<HomeCertificates> home_certificates;
  const auto interval = options.home_certificate_interval;
  options.serve.add_routes = [&context, &own, &upkeep, &home_certificates, &store,
                              interval](http::Server& server) {
    if (own) own->attach_metrics(*server.metrics().registry());
    // control's own certificate from files: its expiry on /metrics (ACME's renewal sets it).
    upkeep = std::make_unique<Upkeep>(**store, server.metrics().registry(),
                                      own ? std::string() : server.options().tls_cert_file);
    upkeep->run_once();
    upkeep->start();
    if (interval.count() > 0) {
      home_certificates =
          std::make_unique<HomeCertificates>(**store, server.metrics().registry(), interval);
      home_certificates->start();
    }
    return add_api_routes(server, context);
  };
  if (options.own_certificate) {
    auto prepared = acme::OwnCertificate::prepare(*options.own_certificate);
    if (!prepared) {
      log_error("%s", prepared.error().message().c_str());
      return 1;
    }
    own = std::move(prepared.value());
    auto listen = parse_listen(options.serve.listen);
    if (!listen) {
      log_error("%s", listen.error().message().c_str());
      return 1;
    }
    // host by value: listen ends with this block, the callback runs later in run_serve.
    options.serve.on_bound = [&store, &own, host = listen->first](uint16_t port) -> Result<void> {
      auto target = acme::reachable_address(host, port);
      if (!target) return target.error();
      return own->start(**store, target.value());
    };
  }
  return run_serve(options.serve);
}

}  // namespace cloudlink::control::api
