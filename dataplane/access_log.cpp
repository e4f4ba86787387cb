#include "dataplane/access_log.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace cloudlink::dataplane {

size_t format_access_log(const AccessLogEntry& e, char* out, size_t capacity) {
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  tm utc;
  gmtime_r(&now.tv_sec, &utc);
  char client[SocketAddress::kMaxTextLength] = "-";
  char target[SocketAddress::kMaxTextLength] = "-";
  if (e.client != nullptr && !e.client->empty()) e.client->format(client, sizeof client);
  if (e.target != nullptr && !e.target->empty()) e.target->format(target, sizeof target);
  const std::string_view sni = e.sni.empty() ? std::string_view("-") : e.sni;
  int n = std::snprintf(
      out, capacity,
      "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ client=%s sni=%.*s target=%s result=%s "
      "bytes_from_client=%llu bytes_to_client=%llu duration_s=%.6f\n",
      utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
      now.tv_nsec / 1000000, client, static_cast<int>(sni.size()), sni.data(), target,
      close_result_name(e.result), static_cast<unsigned long long>(e.bytes_from_client),
      static_cast<unsigned long long>(e.bytes_to_client), e.duration_s);
  if (n < 0) return 0;
  if (static_cast<size_t>(n) >= capacity) {
    out[capacity - 2] = '\n';
    return capacity - 1;
  }
  return static_cast<size_t>(n);
}

void write_access_log(int fd, const AccessLogEntry& e) {
  char line[512];
  const size_t n = format_access_log(e, line, sizeof line);
  if (n > 0) [[maybe_unused]]
    auto w = ::write(fd, line, n);
}

}  // namespace cloudlink::dataplane
