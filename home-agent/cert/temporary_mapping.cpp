#include "home-agent/cert/temporary_mapping.h"

#include "common/log.h"

namespace cloudlink::home {
namespace {

// What to do for hostname: patch the home's own mapping, or create one (404: not mapped by
// this home; another home's name then fails at create with control's 409).
Result<PendingMapping> plan(ControlClient& client, const std::string& home_id,
                            const std::string& hostname, uint16_t http_port) {
  PendingMapping mapping{home_id, hostname, http_port, true, std::nullopt};
  auto existing = client.get_mapping(home_id, hostname);
  if (existing) {
    mapping.created = false;
    mapping.previous_http_port = existing->http_port;
  } else if (http_status(existing.error()) != 404) {
    return existing.error();
  }
  return mapping;
}

Result<void> apply(ControlClient& client, const PendingMapping& m) {
  if (m.created) {
    auto made = client.create_mapping(m.home_id, {m.hostname, {m.http_port}, m.http_port, false});
    if (!made) return made.error();
    return ok();
  }
  auto patched = client.set_http_port(m.home_id, m.hostname, m.http_port);
  if (!patched) return patched.error();
  return ok();
}

}  // namespace

Result<std::unique_ptr<TemporaryMapping>> TemporaryMapping::open(ControlClient& client,
                                                                 const PendingSlot& slot,
                                                                 const std::string& home_id,
                                                                 const std::string& hostname,
                                                                 uint16_t http_port) {
  auto mapping = plan(client, home_id, hostname, http_port);
  if (!mapping) return mapping.error();
  if (auto recorded = slot.record(*mapping); !recorded) return recorded.error();
  if (auto applied = apply(client, *mapping); !applied) {
    // Control may have applied it before the answer was lost: take it back if so.
    if (undo_mapping(client, *mapping)) (void)slot.forget();
    return applied.error();
  }
  log_line("cert: temporary mapping: http://%s/ -> tunnel port %u (%s)", hostname.c_str(),
           static_cast<unsigned>(http_port),
           mapping->created ? "a new mapping" : "added to the existing mapping");
  return std::unique_ptr<TemporaryMapping>(new TemporaryMapping(client, slot, *mapping));
}

TemporaryMapping::~TemporaryMapping() {
  if (closed_) return;
  if (auto closed = close(); !closed) {
    log_warn("cert: %s", closed.error().message().c_str());
  }
}

Result<void> TemporaryMapping::close() {
  closed_ = true;
  if (auto undone = undo_mapping(client_, mapping_); !undone) {
    return Error(
        undone.error().code(),
        "the temporary mapping of " + mapping_.hostname +
            " could not be removed (the next cert or run removes it): " + undone.error().context());
  }
  if (auto forgot = slot_.forget(); !forgot) return forgot.error();
  log_line("cert: temporary mapping of %s removed", mapping_.hostname.c_str());
  return ok();
}

}  // namespace cloudlink::home
