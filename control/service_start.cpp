#include "control/service_start.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

extern char** environ;

namespace cloudlink::control {
namespace {

constexpr const char* kControlUnit = "cloudlink-control.service";
constexpr const char* kDataplaneUnit = "cloudlink-dataplane.service";
// Ends the SSH sessions of deleted, deactivated or expired homes (sessions reap, as root).
constexpr const char* kReaperUnit = "cloudlink-reaper.service";

std::string joined(const std::vector<std::string>& argv) {
  std::string text;
  for (const std::string& arg : argv) text += (text.empty() ? "" : " ") + arg;
  return text;
}

// Runs argv (stdout and stderr shared with ours) and waits for it.
Result<void> run(const std::vector<std::string>& argv) {
  std::vector<char*> raw;
  for (const std::string& arg : argv) raw.push_back(const_cast<char*>(arg.c_str()));
  raw.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, raw[0], nullptr, nullptr, raw.data(), environ);
  if (rc != 0) return Error(rc, joined(argv));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return errno_error("waitpid " + argv[0]);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return ok();
  std::string how = WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                      : "signal " + std::to_string(WTERMSIG(status));
  return invalid(joined(argv) + " failed (" + how +
                 "); see `journalctl -u cloudlink-control -u cloudlink-dataplane`");
}

bool systemd_running() {
  std::error_code ec;
  return std::filesystem::is_directory("/run/systemd/system", ec);
}

}  // namespace

Result<std::vector<std::string>> start_services(const ServiceStart& start) {
  std::vector<std::string> said;
  std::string systemctl = start.systemctl;
  if (systemctl.empty()) {
    if (!systemd_running()) {
      said.push_back(
          "systemd is not running here: services not started; start `cloudlink-control serve` "
          "and `cloudlink-dataplane` yourself (README, On a VPS)");
      return said;
    }
    systemctl = "systemctl";
  }
  std::vector<std::vector<std::string>> runs;
  // try-restart: a control already running reads its new settings; one not yet started is
  // left to enable --now, so it is started once, not twice.
  if (start.restart_control) runs.push_back({systemctl, "try-restart", kControlUnit});
  runs.push_back({systemctl, "enable", "--now", kControlUnit, kDataplaneUnit, kReaperUnit});
  for (const auto& argv : runs) {
    if (auto done = run(argv); !done) return done.error();
    said.push_back("ran " + joined(argv));
  }
  return said;
}

}  // namespace cloudlink::control
