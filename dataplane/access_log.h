// One logfmt line per connection, written at close with a single write(2) so lines from
// several workers never interleave.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/socket_address.h"
#include "dataplane/close_result.h"

namespace cloudlink::dataplane {

struct AccessLogEntry {
  const SocketAddress* client = nullptr;
  std::string_view sni;                   // normalised name, or empty
  const SocketAddress* target = nullptr;  // null or empty when never connected
  CloseResult result = CloseResult::kOk;
  uint64_t bytes_from_client = 0;
  uint64_t bytes_to_client = 0;
  double duration_s = 0;
};

// Formats the line (ts, client, sni, target, result, bytes_from_client, bytes_to_client,
// duration_s) into out; returns its length including the newline.
size_t format_access_log(const AccessLogEntry& e, char* out, size_t capacity);

// Writes the line to fd. A failed or short write is dropped: logging never stalls a worker.
void write_access_log(int fd, const AccessLogEntry& e);

}  // namespace cloudlink::dataplane
