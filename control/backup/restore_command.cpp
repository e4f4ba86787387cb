// cloudlink-control restore (declared in backup_commands.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <map>

#include "common/acme/secret_file.h"
#include "common/unique_fd.h"
#include "control/backup/backup_archive.h"
#include "control/backup/backup_commands.h"
#include "control/state/state_store.h"

namespace cloudlink::control::backup {
namespace {

namespace fs = std::filesystem;

CommandOutcome refused(const std::string& why) { return {kExitUsage, "restore: " + why}; }

// The archive's faults are invalid(): their text says it all, without "Invalid argument";
// a failure of this machine (a full disk) keeps its errno's text.
std::string why(const Error& error) {
  return error.code() == std::errc::invalid_argument ? error.context() : error.message();
}

std::string tls_dir_of(const BackupOptions& options) {
  return options.tls_dir.empty() ? options.data_dir + "/tls" : options.tls_dir;
}

// The first file under dir, empty when it holds only folders (or does not exist).
std::string first_file_in(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return {};
  if (!fs::is_directory(dir, ec)) return dir;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_directory(ec) || it->is_symlink(ec)) return it->path().string();
  }
  return {};
}

// Writes DATA/.restore.PID/state/data.mdb; keeps the small secrets in memory until the state
// has been checked.
class StagingSink : public MemberSink {
 public:
  explicit StagingSink(std::string staging) : staging_(std::move(staging)) {}

  Result<void> begin(const ManifestMember& member) override {
    name_ = member.name;
    if (name_ != kStateMember) {
      secrets_[name_].clear();
      return ok();
    }
    const std::string dir = staging_ + "/state";
    if (::mkdir(dir.c_str(), 0770) != 0 && errno != EEXIST) return errno_error(dir);
    file_.reset(::open((dir + "/data.mdb").c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0660));
    if (!file_) return errno_error(dir + "/data.mdb");
    return ok();
  }

  Result<void> write(std::string_view chunk) override {
    if (name_ != kStateMember) {
      secrets_[name_].append(chunk);
      return ok();
    }
    while (!chunk.empty()) {
      ssize_t n = ::write(file_.get(), chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno_error(staging_ + "/state/data.mdb");
      chunk.remove_prefix(static_cast<size_t>(n));
    }
    return ok();
  }

  Result<void> finish() override {
    if (name_ == kStateMember) {
      if (::fsync(file_.get()) != 0) return errno_error(staging_ + "/state/data.mdb");
      file_.reset();
    }
    return ok();
  }

  const std::map<std::string, std::string>& secrets() const { return secrets_; }

 private:
  std::string staging_;
  std::string name_;
  UniqueFd file_;
  std::map<std::string, std::string> secrets_;
};

// In the child: opens the state (which rebuilds staging/routes from it) and counts what it holds.
std::pair<int, std::string> open_and_count(const std::string& staging) {
  auto store = state::StateStore::open(staging);
  if (!store) return {1, store.error().message()};
  auto caller = state::Caller::local_admin();
  auto users = (*store)->users_list(caller);
  auto homes = (*store)->homes_list(caller);
  auto routes = (*store)->routes_list(caller);
  if (!users) return {1, users.error().message()};
  if (!homes) return {1, homes.error().message()};
  if (!routes) return {1, routes.error().message()};
  return {0, std::to_string(users->size()) + " users, " + std::to_string(homes->size()) +
                 " homes, " + std::to_string(routes->size()) + " routes"};
}

// Opens the staged state and rebuilds its routes in a child process and returns what the child
// reports ("N users, M homes, R routes"). LMDB trusts its file: a crafted one can crash the
// reader, and then only the child dies and the restore is refused with the reason.
Result<std::string> check_state_in_child(const std::string& staging) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return errno_error("pipe");
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  pid_t child = ::fork();
  if (child < 0) return errno_error("fork");
  if (child == 0) {
    read_end.reset();
    auto [code, report] = open_and_count(staging);
    ssize_t ignored = ::write(write_end.get(), report.data(), report.size());
    (void)ignored;
    ::_exit(code);
  }
  write_end.reset();
  std::string report;
  char buffer[512];
  for (ssize_t n; (n = ::read(read_end.get(), buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    if (report.size() < 4096) report.append(buffer, static_cast<size_t>(n));
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    return invalid("state/data.mdb from the backup does not open (its check died of signal " +
                   std::to_string(WTERMSIG(status)) + "): damaged backup");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return invalid("state/data.mdb from the backup does not open: " + printable(report));
  }
  return report;
}

Result<void> place_secrets(const BackupOptions& options,
                           const std::map<std::string, std::string>& secrets) {
  for (const auto& [name, content] : secrets) {
    std::string path = name == kAcmeAccountMember
                           ? options.data_dir + "/acme/account.pem"
                           : tls_dir_of(options) + "/" + fs::path(name).filename().string();
    std::string dir = fs::path(path).parent_path().string();
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return errno_error(dir);
    if (auto written = cloudlink::acme::write_secret_file(path, content, 0600); !written)
      return written;
  }
  return ok();
}

Result<void> move_into_place(const std::string& staging, const std::string& data_dir) {
  for (const char* part : {"state", "routes"}) {
    std::string from = staging + "/" + part;
    std::string to = data_dir + "/" + part;
    // An empty folder of the same name (made by a package, say) gives way.
    ::rmdir(to.c_str());
    if (::rename(from.c_str(), to.c_str()) != 0) return errno_error("move " + from + " to " + to);
  }
  return ok();
}

}  // namespace

CommandOutcome backup_restore(const BackupOptions& options) {
  for (const std::string& dir : {options.data_dir, tls_dir_of(options)}) {
    if (std::string file = first_file_in(dir); !file.empty()) {
      return refused(dir + " is not empty (it holds " + file +
                     "); restore only onto an empty data folder: move the old one away first");
    }
  }
  std::error_code ec;
  fs::create_directories(options.data_dir, ec);
  if (ec) return {kExitRuntime, "restore: create " + options.data_dir + ": " + ec.message()};
  const std::string staging = options.data_dir + "/.restore." + std::to_string(::getpid());
  if (::mkdir(staging.c_str(), 0700) != 0) return {kExitRuntime, errno_error(staging).message()};
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  } cleanup{staging};

  StagingSink sink(staging);
  auto manifest = read_archive_file(options.file, sink);
  if (!manifest) return refused(options.file + ": " + why(manifest.error()));
  auto report = check_state_in_child(staging);
  if (!report) return refused(options.file + ": " + why(report.error()));
  if (auto moved = move_into_place(staging, options.data_dir); !moved) {
    return {kExitRuntime, "restore: " + moved.error().message()};
  }
  if (auto placed = place_secrets(options, sink.secrets()); !placed) {
    return {kExitRuntime, "restore: " + placed.error().message()};
  }
  std::string extras;
  if (sink.secrets().contains(std::string(kAcmeAccountMember))) extras += ", the ACME account";
  if (sink.secrets().contains(std::string(kTlsChainMember))) extras += ", control's certificate";
  return {kExitOk, "restored " + options.file + " (cloudlink " +
                       printable(manifest->cloudlink_version) + ", " +
                       printable(manifest->created_at) + ") into " + options.data_dir + ": " +
                       *report + extras + "\n"};
}

}  // namespace cloudlink::control::backup
