// What one listener of the connection loop serves: the API (control/http/server.h) or
// control's ACME challenge responder (control/acme/challenge_site.h).
#pragma once

#include <string>
#include <string_view>

#include "control/http/message.h"

namespace cloudlink::control::http {

class Site {
 public:
  virtual ~Site() = default;
  // On a handler thread, for a complete request; the metrics label goes to *route_label.
  // Must not throw.
  virtual Response handle(const RawRequest& request, std::string* route_label) const = 0;
  // On the loop thread: the metrics label of a request the loop answers itself (a body over
  // the cap, a timeout, ...).
  virtual std::string route_label(std::string_view method, std::string_view path) const = 0;
  // Once an answer is written (or could not be): its label, the request's method as sent,
  // the status, and the seconds since the request's head was in (-1: unknown).
  virtual void answered(std::string_view route, std::string_view method, int status,
                        double seconds) const = 0;
};

}  // namespace cloudlink::control::http
