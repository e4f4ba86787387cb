// The record of a temporary mapping while an order needs it, so that a crash never leaves
// it behind: written before control is asked to create (or patch) the mapping, removed once
// control has taken it back, and undone by the next cert or run when a process died with it.
// One file per hostname in cert-pending/ (HOSTNAME.json), plus HOSTNAME.lock, which the
// order holds (flock) while it runs: a cleanup skips what a live process is still using, and
// two orders for one name in one home cannot overlap.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "home-agent/control_client/control_client.h"

namespace cloudlink::home {

struct PendingMapping {
  std::string home_id;
  std::string hostname;
  uint16_t http_port = 0;  // the temporary HTTP target (a tunnel port of the home)
  // true: the mapping itself was made for the order (deleted afterwards); false: an existing
  // mapping got http_port (set back to previous_http_port afterwards).
  bool created = false;
  std::optional<uint16_t> previous_http_port;
};

// The exclusive right to order for one hostname, held until destroyed.
class PendingSlot {
 public:
  // Takes HOSTNAME.lock in dir (created 0700); an error when another process holds it.
  static Result<PendingSlot> acquire(const std::string& dir, const std::string& hostname);

  // Records mapping (atomically) / forgets it.
  Result<void> record(const PendingMapping& mapping) const;
  Result<void> forget() const;

 private:
  PendingSlot(std::string record_path, UniqueFd lock)
      : record_path_(std::move(record_path)), lock_(std::move(lock)) {}
  std::string record_path_;
  UniqueFd lock_;
};

// Takes back what mapping says was done, when control still shows it as it was left: deletes
// a created mapping whose tls_ports and http_port are [http_port] and http_port, or sets a
// patched mapping's http_port back. A mapping already gone or changed since is left alone.
Result<void> undo_mapping(ControlClient& client, const PendingMapping& mapping);

// The temporary ports recorded in dir (orders in flight, or leftovers): a new order picks
// another, so that two orders never ask sshd for the same port.
std::vector<uint16_t> recorded_ports(const std::string& dir);

// Undoes every record in dir that no live process holds, and removes it once control
// confirmed; logs one line per leftover. An error when one could not be undone (it stays
// recorded for the next attempt).
Result<void> clean_up_leftovers(ControlClient& client, const std::string& dir);

}  // namespace cloudlink::home
