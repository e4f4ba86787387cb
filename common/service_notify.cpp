#include "common/service_notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <string>

namespace cloudlink::service {
namespace {

// STATUS= ends at a newline: a status text holding one would start a new, unintended field.
std::string one_line(std::string_view text) {
  std::string line(text.substr(0, 200));
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return line;
}

void send(const std::string& state) { (void)sd_notify(0, state.c_str()); }

}  // namespace

void notify_ready(std::string_view status) { send("READY=1\nSTATUS=" + one_line(status)); }

void notify_status(std::string_view status) { send("STATUS=" + one_line(status)); }

void notify_reloading() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const long long usec = static_cast<long long>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void notify_stopping() { send("STOPPING=1"); }

void notify_main_pid(pid_t pid) { send("MAINPID=" + std::to_string(pid)); }

void notify_barrier(std::chrono::milliseconds timeout) {
  (void)sd_notify_barrier(0, static_cast<uint64_t>(timeout.count()) * 1000);
}

std::optional<std::chrono::microseconds> watchdog_period() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec / 2);
}

void notify_watchdog() { send("WATCHDOG=1"); }

}  // namespace cloudlink::service
