#include "home-agent/status/status_board.h"

#include <ctime>

#include "common/log.h"

namespace cloudlink::home {

const char* state_name(TunnelState state) {
  switch (state) {
    case TunnelState::kStarting:
      return "starting";
    case TunnelState::kConnecting:
      return "connecting";
    case TunnelState::kUp:
      return "up";
    case TunnelState::kRetrying:
      return "down";
    case TunnelState::kStopped:
      return "stopped";
  }
  return "unknown";
}

size_t StatusBoard::add(std::string name, std::string target, uint16_t tunnel_port,
                        std::string service) {
  std::lock_guard lock(mutex_);
  Entry& entry = entries_.emplace_back();
  entry.fixed.name = std::move(name);
  entry.fixed.service = std::move(service);
  entry.fixed.target = std::move(target);
  entry.fixed.tunnel_port = tunnel_port;
  entry.fixed.since_unix = std::time(nullptr);
  ++version_;
  return entries_.size() - 1;
}

void StatusBoard::retire(size_t tunnel) {
  std::lock_guard lock(mutex_);
  entries_[tunnel].retired = true;
  ++version_;
}

StatusBoard::Entry& StatusBoard::entry(size_t index) {
  std::lock_guard lock(mutex_);
  return entries_[index];
}

void StatusBoard::set_state(size_t tunnel, TunnelState state, const std::string& error, bool log) {
  std::lock_guard lock(mutex_);
  TunnelSnapshot& s = entries_[tunnel].fixed;
  if (!error.empty()) s.last_error = error;
  if (s.state == state && error.empty()) return;
  bool changed = s.state != state;
  s.state = state;
  if (changed) s.since_unix = std::time(nullptr);
  ++version_;
  if (!log) return;
  if (error.empty()) {
    log_line("tunnel %s 127.0.0.1:%u -> %s: %s", s.name.c_str(), s.tunnel_port, s.target.c_str(),
             state_name(state));
  } else {
    log_warn("tunnel %s 127.0.0.1:%u -> %s: %s: %s", s.name.c_str(), s.tunnel_port,
             s.target.c_str(), state_name(state), error.c_str());
  }
}

void StatusBoard::add_bytes(size_t tunnel, uint64_t in, uint64_t out) {
  Entry& e = entry(tunnel);
  e.bytes_in += in;
  e.bytes_out += out;
}

void StatusBoard::channel_opened(size_t tunnel) {
  Entry& e = entry(tunnel);
  ++e.channels_total;
  ++e.channels_open;
}

void StatusBoard::channel_closed(size_t tunnel) { --entry(tunnel).channels_open; }

std::vector<TunnelSnapshot> StatusBoard::snapshot() const {
  std::lock_guard lock(mutex_);
  std::vector<TunnelSnapshot> out;
  for (const Entry& e : entries_) {
    if (e.retired) continue;
    TunnelSnapshot s = e.fixed;
    s.bytes_in = e.bytes_in.load();
    s.bytes_out = e.bytes_out.load();
    s.channels_total = e.channels_total.load();
    s.channels_open = e.channels_open.load();
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace cloudlink::home
