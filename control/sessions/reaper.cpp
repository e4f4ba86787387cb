#include "control/sessions/reaper.h"

#include <pwd.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <set>

#include "common/log.h"
#include "control/sessions/proc_scan.h"
#include "control/sessions/session_spool.h"

namespace cloudlink::sessions {
namespace {

std::string port_list(const std::set<uint16_t>& ports) {
  std::string text;
  for (uint16_t port : ports) text += (text.empty() ? "" : ",") + std::to_string(port);
  return text;
}

}  // namespace

Reaper::Reaper(ReaperOptions options) : options_(std::move(options)) {}

Result<ReapPass> Reaper::pass() {
  if (uid_ == 0) {
    const passwd* user = ::getpwnam(options_.ssh_user.c_str());
    if (user == nullptr) return Error(ENOENT, "sessions: no user " + options_.ssh_user);
    if (user->pw_uid == 0) return invalid("sessions: the SSH user must not be root");
    uid_ = user->pw_uid;
  }
  auto policy = state::session_policy(options_.data_dir);
  if (!policy) return policy.error();
  ProcessFilter filter;
  filter.uid = uid_;
  filter.ancestor = options_.sshd_pid;
  ReapPass result;
  std::map<pid_t, uint64_t> signalled;
  for (const ListeningProcess& process : listening_processes(filter, options_.proc_root)) {
    ++result.listeners;
    std::set<uint16_t> foreign;
    for (uint16_t port : process.ports) {
      if (!policy->ports.contains(port)) foreign.insert(port);
    }
    if (foreign.empty()) continue;
    auto before = signalled_.find(process.pid);
    const bool again = before != signalled_.end() && before->second == process.starttime;
    const int sig = again ? SIGKILL : SIGTERM;
    if (::kill(process.pid, sig) != 0 && errno != ESRCH) {
      log_line("sessions: cannot signal sshd pid %d: %s", static_cast<int>(process.pid),
               std::strerror(errno));
      continue;
    }
    log_line(
        "sessions: ended sshd session pid=%d user=%s ports=%s (%s): no home that may log in "
        "holds them",
        static_cast<int>(process.pid), options_.ssh_user.c_str(), port_list(foreign).c_str(),
        again ? "SIGKILL" : "SIGTERM");
    signalled[process.pid] = process.starttime;
    ++result.ended;
  }
  signalled_ = std::move(signalled);
  return result;
}

int Reaper::run() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  log_line("sessions: reaping sessions of %s every %lld ms (data %s)", options_.ssh_user.c_str(),
           static_cast<long long>(options_.interval.count()), options_.data_dir.c_str());
  for (;;) {
    auto done = pass();
    if (!done) log_line("sessions: %s", done.error().message().c_str());
    timespec wait{static_cast<time_t>(options_.interval.count() / 1000),
                  static_cast<long>(options_.interval.count() % 1000) * 1'000'000L};
    if (::sigtimedwait(&stop, nullptr, &wait) > 0) return 0;
  }
}

int run_reaper(const ReaperOptions& options) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  // A missing or root SSH user is a configuration error: say it and stop.
  const passwd* user = ::getpwnam(options.ssh_user.c_str());
  if (user == nullptr || user->pw_uid == 0) {
    log_line("sessions: --ssh-user %s: %s", options.ssh_user.c_str(),
             user == nullptr ? "no such user" : "must not be root");
    return 1;
  }
  Reaper reaper(options);
  return reaper.run();
}

}  // namespace cloudlink::sessions
