#include "home-agent/tunnel/tunnel_set.h"

#include <chrono>
#include <map>
#include <string>

namespace cloudlink::home {

namespace {

// A stopping tunnel ends within its poll interval plus the SSH disconnect; one stuck in a
// connection attempt may take its connect timeout: the new one does not wait for that.
constexpr auto kWaitForOldTunnel = std::chrono::seconds(3);

}  // namespace

TunnelSet::TunnelSet(StatusBoard& board, FatalHandler fatal)
    : board_(board), fatal_(std::move(fatal)) {}

TunnelSet::~TunnelSet() {
  stop_all();
  for (auto& tunnel : running_) tunnel.thread.join();
  for (auto& tunnel : retiring_) tunnel.thread.join();
}

TunnelSet::Change TunnelSet::apply(const std::vector<TunnelSpec>& wanted,
                                   const std::vector<TunnelIdentity>& ids) {
  std::vector<TunnelIdentity> running_ids;
  running_ids.reserve(running_.size());
  for (const auto& tunnel : running_) running_ids.push_back(tunnel.id);
  TunnelDiff diff = diff_tunnels(running_ids, ids);

  std::vector<Running> next;
  next.reserve(diff.keep.size() + diff.start.size());
  for (size_t i : diff.keep) next.push_back(std::move(running_[i]));
  std::map<uint16_t, std::shared_ptr<std::atomic<bool>>> freed;  // port -> its old tunnel done
  for (size_t i : diff.stop) {
    freed[running_[i].id.tunnel_port] = running_[i].done;
    retire(std::move(running_[i]));
  }
  for (size_t w : diff.start) {
    auto old = freed.find(ids[w].tunnel_port);
    next.push_back(start(wanted[w], ids[w], old == freed.end() ? nullptr : old->second));
  }
  running_ = std::move(next);
  return Change{diff.start.size(), diff.stop.size(), diff.keep.size()};
}

TunnelSet::Running TunnelSet::start(TunnelSpec spec, const TunnelIdentity& id,
                                    std::shared_ptr<std::atomic<bool>> after) {
  Running tunnel;
  tunnel.id = id;
  // "app.example.com#k": k is the port's place in the service's list, as in the config.
  size_t k = 0;
  const auto& ports = spec.service.tunnel_ports;
  while (k < ports.size() && ports[k] != spec.tunnel_port) ++k;
  tunnel.board_index = board_.add(spec.service.hostname + "#" + std::to_string(k), id.target,
                                  spec.tunnel_port, spec.service.hostname);
  spec.board_index = tunnel.board_index;
  tunnel.stop = std::make_shared<std::atomic<bool>>(false);
  tunnel.done = std::make_shared<std::atomic<bool>>(false);
  tunnel.thread = std::thread([this, spec = std::move(spec), stop = tunnel.stop, done = tunnel.done,
                               after = std::move(after)] {
    auto deadline = std::chrono::steady_clock::now() + kWaitForOldTunnel;
    while (after && !after->load() && !stop->load() &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    run_tunnel(spec, board_, *stop, fatal_);
    done->store(true);
  });
  return tunnel;
}

void TunnelSet::retire(Running tunnel) {
  tunnel.stop->store(true);
  board_.retire(tunnel.board_index);
  retiring_.push_back(std::move(tunnel));
}

void TunnelSet::reap() {
  for (size_t i = 0; i < retiring_.size();) {
    if (!retiring_[i].done->load()) {
      ++i;
      continue;
    }
    retiring_[i].thread.join();
    retiring_[i] = std::move(retiring_.back());
    retiring_.pop_back();
  }
}

void TunnelSet::stop_all() {
  for (auto& tunnel : running_) tunnel.stop->store(true);
}

}  // namespace cloudlink::home
