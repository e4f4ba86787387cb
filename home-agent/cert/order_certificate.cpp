#include "home-agent/cert/order_certificate.h"

#include "common/acme/account_key.h"
#include "common/log.h"
#include "home-agent/cert/cert_files.h"
#include "home-agent/cert/challenge_tunnel.h"
#include "home-agent/cert/pending_mapping.h"
#include "home-agent/cert/temporary_mapping.h"
#include "home-agent/control_client/control_client.h"
#include "home-agent/enroll/tunnel_ports.h"

namespace cloudlink::home {
namespace {

constexpr auto kTunnelTimeout = std::chrono::seconds(30);

Result<void> check_order(const CertificateOrder& order) {
  const AgentConfig& c = order.config;
  if (!c.server || !c.home || c.home->id.empty()) {
    return invalid(order.config_path + " has no server or home: run `cloudlink-home register`");
  }
  if (!c.ssh || c.ssh->private_key.empty() || c.ssh->known_host_key.empty()) {
    return invalid(order.config_path + ": ssh needs host, private_key and known_host_key");
  }
  if (!c.acme || c.acme->directory.empty()) {
    return invalid("no ACME directory: give --directory URL (or acme.directory in " +
                   order.config_path + ")");
  }
  return ok();
}

// A tunnel port of the home that no service of the config and no other order uses.
Result<uint16_t> free_tunnel_port(ControlClient& client, const AgentConfig& config,
                                  const std::string& pending) {
  auto home = client.get_home(config.home->id);
  if (!home) return home.error();
  std::vector<uint16_t> used = recorded_ports(pending);
  for (const auto& service : config.services) {
    used.insert(used.end(), service.tunnel_ports.begin(), service.tunnel_ports.end());
  }
  auto picked = pick_tunnel_ports(home->ports, used, 1);
  if (!picked) return picked.error();
  return picked->front();
}

Result<std::unique_ptr<acme::AcmeClient>> acme_account(const CertificateOrder& order) {
  auto key = acme::AccountKey::load_or_create(account_key_path(order.config_path));
  if (!key) return key.error();
  acme::AcmeOptions options;
  options.directory_url = order.config.acme->directory;
  options.ca_bundle = order.config.acme->ca_bundle.empty()
                          ? std::string()
                          : resolve_key_path(order.config_path, order.config.acme->ca_bundle);
  options.email = order.config.acme->email;
  options.cancelled = order.cancelled;
  auto client = acme::AcmeClient::connect(std::move(options), std::move(*key));
  if (!client) return client.error();
  if (auto registered = (*client)->register_account(); !registered) return registered.error();
  return client;
}

// The order itself, once control is reachable and the name is ours to order for.
Result<acme::CertificateInfo> order_through_tunnel(const CertificateOrder& order,
                                                   ControlClient& control,
                                                   const PendingSlot& slot) {
  auto account = acme_account(order);
  if (!account) return account.error();
  auto port = free_tunnel_port(control, order.config, pending_dir(order.config_path));
  if (!port) return port.error();
  SshTarget ssh{*order.config.ssh,
                resolve_key_path(order.config_path, order.config.ssh->private_key)};
  auto tunnel = ChallengeTunnel::open(ssh, *port, kTunnelTimeout, order.cancelled);
  if (!tunnel) return tunnel.error();
  auto mapping =
      TemporaryMapping::open(control, slot, order.config.home->id, order.hostname, *port);
  if (!mapping) return mapping.error();
  auto issued = (*account)->issue({order.hostname}, (*tunnel)->responder());
  auto closed = (*mapping)->close();
  if (!issued) {
    if (!closed) log_warn("cert: %s", closed.error().message().c_str());
    return issued.error();
  }
  auto installed =
      install_certificate(certificate_paths(order.config_path, *order.config.acme, order.hostname),
                          order.hostname, *issued);
  if (!installed) return installed.error();
  if (!closed) {
    return Error(closed.error().code(),
                 "the certificate is installed, but " + closed.error().context());
  }
  return installed;
}

}  // namespace

Result<acme::CertificateInfo> order_certificate(const CertificateOrder& order) {
  if (auto checked = check_order(order); !checked) return checked.error();
  std::string ca_bundle = order.control_ca_bundle;
  if (ca_bundle.empty() && !order.config.server->ca_bundle.empty()) {
    ca_bundle = resolve_key_path(order.config_path, order.config.server->ca_bundle);
  }
  auto control = ControlClient::create({order.config.server->url, ca_bundle});
  if (!control) return control.error();
  (*control)->set_token(order.config.server->token);
  const std::string pending = pending_dir(order.config_path);
  // A failure here is not the order's: it is logged, retried next time, and the order's own
  // requests say whether control is reachable.
  (void)clean_up_leftovers(**control, pending);
  auto slot = PendingSlot::acquire(pending, order.hostname);
  if (!slot) return slot.error();
  return order_through_tunnel(order, **control, *slot);
}

}  // namespace cloudlink::home
