// Tells systemd where a service stands (sd_notify): ready once listening, reloading, stopping,
// the new main PID after a hand-over, and the watchdog's heartbeat. Every call is a no-op when
// the program was not started by systemd (no NOTIFY_SOCKET), so the same binary runs by hand.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string_view>

namespace cloudlink::service {

// READY=1 with a one-line STATUS= for `systemctl status`.
void notify_ready(std::string_view status);
void notify_status(std::string_view status);
// RELOADING=1 with MONOTONIC_USEC, as Type=notify-reload expects; end it with notify_ready.
void notify_reloading();
void notify_stopping();
// MAINPID=: the process that takes over a running service (a dataplane upgrade) names itself.
void notify_main_pid(pid_t pid);
// Waits (at most timeout) until systemd has processed every notification sent before, so a
// MAINPID= is in effect before the old main process exits.
void notify_barrier(std::chrono::milliseconds timeout);

// How often the program must call notify_watchdog(): half of WatchdogSec=, or nothing when the
// unit has no watchdog. Call it from the loop whose liveness it proves, never from a timer thread.
std::optional<std::chrono::microseconds> watchdog_period();
void notify_watchdog();

}  // namespace cloudlink::service
