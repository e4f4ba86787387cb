// What every tunnel is doing, shared between the tunnel threads (writers) and the thread that
// writes the status file (reader). A state change is logged as one line when it happens.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace cloudlink::home {

enum class TunnelState { kStarting, kConnecting, kUp, kRetrying, kStopped };
const char* state_name(TunnelState state);

struct TunnelSnapshot {
  std::string name;     // "app.example.com#0"
  std::string service;  // "app.example.com"
  std::string target;
  uint16_t tunnel_port = 0;
  TunnelState state = TunnelState::kStarting;
  int64_t since_unix = 0;
  uint64_t bytes_in = 0;   // VPS -> home target
  uint64_t bytes_out = 0;  // home target -> VPS
  uint64_t channels_total = 0;
  uint64_t channels_open = 0;
  std::string last_error;
};

class StatusBoard {
 public:
  // Registers a tunnel; returns its index. Safe while other tunnels' threads run (a reload
  // adds tunnels to a running agent).
  size_t add(std::string name, std::string target, uint16_t tunnel_port, std::string service = {});
  // Takes a tunnel off the board (a reload stopped it): snapshots leave it out. Its thread may
  // still report to it while it winds down.
  void retire(size_t tunnel);

  // Records a state (and the error that caused it, if any); logs a line when it changes
  // (unless log is false: the caller reports it in its own words).
  void set_state(size_t tunnel, TunnelState state, const std::string& error = {}, bool log = true);
  void add_bytes(size_t tunnel, uint64_t in, uint64_t out);
  void channel_opened(size_t tunnel);
  void channel_closed(size_t tunnel);

  std::vector<TunnelSnapshot> snapshot() const;
  // Grows on every state change, so the writer knows when to rewrite at once.
  uint64_t version() const { return version_.load(); }

 private:
  struct Entry {
    TunnelSnapshot fixed;  // name, target, port, state, since, last_error (under mutex_)
    bool retired = false;  // under mutex_
    std::atomic<uint64_t> bytes_in{0};
    std::atomic<uint64_t> bytes_out{0};
    std::atomic<uint64_t> channels_total{0};
    std::atomic<uint64_t> channels_open{0};
  };
  // The entry at index: looked up under mutex_ (add() may grow the deque meanwhile); the
  // entry itself never moves.
  Entry& entry(size_t index);

  mutable std::mutex mutex_;
  std::deque<Entry> entries_;  // deque: entries never move once added
  std::atomic<uint64_t> version_{0};
};

}  // namespace cloudlink::home
