#include "dataplane/successor.h"

#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <string_view>

extern char** environ;

namespace cloudlink::dataplane {

Result<SuccessorCommand> SuccessorCommand::capture(int argc, char** argv) {
  SuccessorCommand command;
  char path[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return errno_error("readlink /proc/self/exe");
  command.executable_.assign(path, static_cast<size_t>(n));
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == kTakeoverFlag) {
      ++i;  // and its value
      continue;
    }
    if (arg.starts_with(std::string(kTakeoverFlag) + "=")) continue;
    command.arguments_.emplace_back(arg);
  }
  return command;
}

Result<Successor> spawn_successor(const SuccessorCommand& command) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
    return errno_error("handover: socketpair");
  }
  Successor successor;
  successor.socket = UniqueFd(pair[0]);
  UniqueFd theirs(pair[1]);

  std::vector<std::string> args = command.arguments();
  args.push_back(kTakeoverFlag);
  args.push_back(std::to_string(theirs.get()));
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "WATCHDOG_PID=", 13) != 0) envp.push_back(*e);
  }
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // dup2 onto itself clears FD_CLOEXEC in the child only (glibc >= 2.29, POSIX 2024), so the
  // descriptor never leaks into anything else this process might start.
  posix_spawn_file_actions_adddup2(&actions, theirs.get(), theirs.get());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  const int rc = ::posix_spawn(&successor.pid, command.executable().c_str(), &actions, &attr,
                               argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return Error(rc, "handover: cannot start " + command.executable());
  return successor;
}

void abandon_successor(Successor& successor) {
  if (successor.pid <= 0) return;
  ::kill(successor.pid, SIGKILL);
  int status;
  while (::waitpid(successor.pid, &status, 0) < 0 && errno == EINTR) {
  }
  successor.pid = -1;
}

}  // namespace cloudlink::dataplane
