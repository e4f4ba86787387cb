// The running agent's tunnels, each on its own thread with its own stop flag, so that a reload
// stops exactly the tunnels it no longer wants and starts the new ones while every other
// tunnel keeps its SSH connection and the client connections open through it.
#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "home-agent/status/status_board.h"
#include "home-agent/tunnel/tunnel.h"
#include "home-agent/tunnel/tunnel_diff.h"

namespace cloudlink::home {

class TunnelSet {
 public:
  // fatal is called from tunnel threads (see run_tunnel); it must outlive the set.
  TunnelSet(StatusBoard& board, FatalHandler fatal);
  // Stops every tunnel and waits for its thread.
  ~TunnelSet();
  TunnelSet(const TunnelSet&) = delete;
  TunnelSet& operator=(const TunnelSet&) = delete;

  struct Change {
    size_t started = 0;
    size_t stopped = 0;
    size_t kept = 0;
  };
  // Makes the running set the wanted one: wanted[i] is described by ids[i]. Stopped tunnels
  // leave the status board at once; their threads wind down in the background (reap()).
  Change apply(const std::vector<TunnelSpec>& wanted, const std::vector<TunnelIdentity>& ids);

  // Joins the threads of stopped tunnels that have finished. Call from the main loop.
  void reap();
  // Tells every tunnel to stop (does not wait).
  void stop_all();
  size_t size() const { return running_.size(); }

 private:
  struct Running {
    TunnelIdentity id;
    size_t board_index = 0;
    std::shared_ptr<std::atomic<bool>> stop;
    std::shared_ptr<std::atomic<bool>> done;
    std::thread thread;
  };
  // after: the done flag of a stopping tunnel on the same port, or null. The new tunnel waits
  // for it (bounded) before connecting: sshd would refuse a second listener on the port until
  // the old session is gone, and the refusal would cost a backoff delay.
  Running start(TunnelSpec spec, const TunnelIdentity& id,
                std::shared_ptr<std::atomic<bool>> after);
  void retire(Running tunnel);

  StatusBoard& board_;
  FatalHandler fatal_;
  std::vector<Running> running_;
  std::vector<Running> retiring_;  // told to stop, thread not joined yet
};

}  // namespace cloudlink::home
