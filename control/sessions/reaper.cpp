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
  ProcessFilter filter;
  filter.uid = uid_;
  filter.ancestor = options_.sshd_pid;
  // What listens and which keys are recorded first, the policy after: a session seen here
  // logged in before the policy was read, so a home created meanwhile is never mistaken for
  // a foreign one.
  const auto listening = listening_processes(filter, options_.proc_root);
  const auto records = options_.sessions_dir.empty() ? std::vector<SessionRecord>()
                                                     : read_session_records(options_.sessions_dir);
  auto policy = state::session_policy(options_.data_dir);
  if (!policy) return policy.error();
  ReapPass result;
  signalled_now_.clear();
  for (const ListeningProcess& process : listening) {
    ++result.listeners;
    std::set<uint16_t> foreign;
    for (uint16_t port : process.ports) {
      if (!policy->ports.contains(port)) foreign.insert(port);
    }
    if (foreign.empty()) continue;
    if (end(process.pid, process.starttime,
            "ports=" + port_list(foreign) + ": no home that may log in holds them")) {
      ++result.ended;
    }
  }
  end_by_key(*policy, records, result);
  signalled_ = std::move(signalled_now_);
  return result;
}

void Reaper::end_by_key(const state::SessionPolicy& policy,
                        const std::vector<SessionRecord>& records, ReapPass& result) {
  for (const SessionRecord& record : records) {
    auto identity = process_identity(record.pid, options_.proc_root);
    if (!identity || identity->starttime != record.starttime) {
      forget_session(options_.sessions_dir, record.pid);  // that session has ended
      continue;
    }
    if (identity->comm.rfind("sshd", 0) != 0) continue;  // not sshd's: never signal it
    if (options_.sshd_pid && !descends_from(record.pid, *options_.sshd_pid, options_.proc_root)) {
      continue;
    }
    ++result.recorded;
    if (policy.keys.contains(record.key)) continue;
    if (end(record.pid, record.starttime,
            "its key may no longer log in (home deleted, deactivated, expired or key rotated)")) {
      ++result.ended;
    }
  }
}

bool Reaper::end(pid_t pid, uint64_t starttime, const std::string& why) {
  if (signalled_now_.contains(pid)) return false;
  auto before = signalled_.find(pid);
  const bool again = before != signalled_.end() && before->second == starttime;
  if (::kill(pid, again ? SIGKILL : SIGTERM) != 0 && errno != ESRCH) {
    log_line("sessions: cannot signal sshd pid %d: %s", static_cast<int>(pid),
             std::strerror(errno));
    return false;
  }
  log_line("sessions: ended sshd session pid=%d user=%s (%s): %s", static_cast<int>(pid),
           options_.ssh_user.c_str(), again ? "SIGKILL" : "SIGTERM", why.c_str());
  signalled_now_[pid] = starttime;
  return true;
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
