// The HTTP route an order needs for a while: plain HTTP for the hostname on the VPS's :80 goes
// to one of the home's tunnel ports. When the hostname is mapped already (an exposed
// service), its mapping gets http_port for the order and loses it again afterwards; the TLS
// route keeps serving throughout. When it is not mapped yet, a mapping is created for the
// order (tls_ports = http_port = the temporary port) and deleted afterwards. A mapping is one
// per hostname, so these are the only two ways; both are recorded first (PendingSlot).
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "home-agent/cert/pending_mapping.h"
#include "home-agent/control_client/control_client.h"

namespace cloudlink::home {

class TemporaryMapping {
 public:
  // Records the intent in slot, then asks control; the record is dropped again when control
  // refused. slot and client must outlive the object.
  static Result<std::unique_ptr<TemporaryMapping>> open(ControlClient& client,
                                                        const PendingSlot& slot,
                                                        const std::string& home_id,
                                                        const std::string& hostname,
                                                        uint16_t http_port);
  // Takes the mapping back (close() if it was not called; a failure is logged).
  ~TemporaryMapping();
  TemporaryMapping(const TemporaryMapping&) = delete;
  TemporaryMapping& operator=(const TemporaryMapping&) = delete;

  // Takes the mapping back and forgets the record. On failure the record stays, for the next
  // cert or run to finish the job.
  Result<void> close();

 private:
  TemporaryMapping(ControlClient& client, const PendingSlot& slot, PendingMapping mapping)
      : client_(client), slot_(slot), mapping_(std::move(mapping)) {}

  ControlClient& client_;
  const PendingSlot& slot_;
  PendingMapping mapping_;
  bool closed_ = false;
};

}  // namespace cloudlink::home
