#include "home-agent/tunnel/tunnel_diff.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "home-agent/tunnel/tunnel.h"

namespace cloudlink::home {

namespace {

auto as_tuple(const TunnelIdentity& id) {
  return std::tie(id.ssh, id.keepalive_ms, id.service, id.target, id.tls, id.tunnel_port);
}

struct IdentityLess {
  bool operator()(const TunnelIdentity& a, const TunnelIdentity& b) const {
    return as_tuple(a) < as_tuple(b);
  }
};

}  // namespace

TunnelIdentity identity_of(const TunnelSpec& spec, const std::string& certificates_dir) {
  TunnelIdentity id;
  const SshConfig& ssh = spec.ssh.ssh;
  // '\n' cannot occur in any of these fields (the config parser refuses control characters).
  id.ssh = ssh.host + "\n" + std::to_string(ssh.port) + "\n" + ssh.user + "\n" +
           ssh.known_host_key + "\n" + spec.ssh.private_key_path;
  id.keepalive_ms = spec.keepalive.interval.count();
  id.service = spec.service.hostname;
  id.target = spec.service.target();
  id.tls = spec.service.terminate_tls ? certificates_dir : "";
  id.tunnel_port = spec.tunnel_port;
  return id;
}

TunnelDiff diff_tunnels(const std::vector<TunnelIdentity>& running,
                        const std::vector<TunnelIdentity>& wanted) {
  // Running tunnels not yet matched, by identity (several when a config repeats one).
  std::map<TunnelIdentity, std::vector<size_t>, IdentityLess> unmatched;
  for (size_t i = running.size(); i-- > 0;) unmatched[running[i]].push_back(i);
  TunnelDiff diff;
  for (size_t w = 0; w < wanted.size(); ++w) {
    auto it = unmatched.find(wanted[w]);
    if (it == unmatched.end() || it->second.empty()) {
      diff.start.push_back(w);
      continue;
    }
    diff.keep.push_back(it->second.back());
    it->second.pop_back();
  }
  for (const auto& [id, indices] : unmatched) {
    diff.stop.insert(diff.stop.end(), indices.begin(), indices.end());
  }
  std::sort(diff.keep.begin(), diff.keep.end());
  std::sort(diff.stop.begin(), diff.stop.end());
  return diff;
}

}  // namespace cloudlink::home
