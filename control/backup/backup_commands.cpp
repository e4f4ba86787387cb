#include "control/backup/backup_commands.h"

#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>

#include "common/acme/secret_file.h"
#include "common/unique_fd.h"
#include "common/version.h"
#include "control/backup/backup_archive.h"
#include "control/state/state_store.h"

namespace cloudlink::control::backup {
namespace {

namespace fs = std::filesystem;

CommandOutcome runtime(const Error& error) { return {kExitRuntime, error.message()}; }

std::string tls_dir_of(const BackupOptions& options) {
  return options.tls_dir.empty() ? options.data_dir + "/tls" : options.tls_dir;
}

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

struct EnvCloser {
  void operator()(MDB_env* env) const { mdb_env_close(env); }
};

// An unnamed file beside path (same file system, gone when closed).
Result<UniqueFd> scratch_file_near(const std::string& path) {
  std::string dir = fs::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (fd) return fd;
  std::string name = dir + "/.cloudlink-backup.XXXXXX";
  fd.reset(::mkostemp(name.data(), O_CLOEXEC));
  if (!fd) return errno_error("a scratch file in " + dir);
  ::unlink(name.c_str());
  return fd;
}

// DATA/state, compacted, in one read transaction, into an unnamed file beside out_path.
Result<UniqueFd> copy_state(const std::string& data_dir, const std::string& out_path) {
  const std::string dir = data_dir + "/state";
  struct stat st {};
  if (::stat((dir + "/data.mdb").c_str(), &st) != 0) {
    return Error(errno, dir + "/data.mdb: no state to back up (is --data the data folder?)");
  }
  MDB_env* raw = nullptr;
  if (int rc = mdb_env_create(&raw); rc != 0) return Error(EIO, mdb_strerror(rc));
  std::unique_ptr<MDB_env, EnvCloser> env(raw);
  // Read-only: the copy is a reader like any other, serve's writers go on meanwhile.
  if (int rc = mdb_env_open(raw, dir.c_str(), MDB_RDONLY | MDB_NOTLS, 0660); rc != 0) {
    return Error(rc > 0 ? rc : EIO, "open " + dir + ": " + mdb_strerror(rc));
  }
  auto fd = scratch_file_near(out_path);
  if (!fd) return fd.error();
  for (int attempt = 0;; ++attempt) {
    int rc = mdb_env_copyfd2(raw, fd->get(), MDB_CP_COMPACT);
    if (rc == 0) return fd;
    // serve grew the map since we opened: take the new size and copy again.
    if (rc != MDB_MAP_RESIZED || attempt >= 3 || mdb_env_set_mapsize(raw, 0) != 0 ||
        ::ftruncate(fd->get(), 0) != 0) {
      return Error(rc > 0 ? rc : EIO, "copy " + dir + ": " + mdb_strerror(rc));
    }
  }
}

// The optional small files of a backup that exist: (member name, path).
std::vector<std::pair<std::string, std::string>> secret_files(const BackupOptions& options) {
  const std::string tls = tls_dir_of(options);
  return {{std::string(kAcmeAccountMember), options.data_dir + "/acme/account.pem"},
          {std::string(kTlsChainMember), tls + "/fullchain.pem"},
          {std::string(kTlsKeyMember), tls + "/key.pem"}};
}

Result<std::vector<MemberSource>> gather(const BackupOptions& options, int state_fd) {
  std::vector<MemberSource> sources;
  sources.push_back({std::string(kStateMember), {}, state_fd});
  for (const auto& [member, path] : secret_files(options)) {
    if (::access(path.c_str(), F_OK) != 0) continue;
    auto content = cloudlink::acme::read_small_file(path);
    if (!content) return content.error();
    sources.push_back({member, std::move(*content), -1});
  }
  return sources;
}

// Removes a path on every exit path unless released.
class RemoveGuard {
 public:
  explicit RemoveGuard(std::string path) : path_(std::move(path)) {}
  ~RemoveGuard() {
    if (path_.empty()) return;
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  void release() { path_.clear(); }

 private:
  std::string path_;
};

Result<void> write_backup_file(const std::string& path, const Manifest& manifest,
                               const std::vector<MemberSource>& sources) {
  const std::string partial = path + ".partial." + std::to_string(::getpid());
  UniqueFd out(::open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!out) return errno_error(partial);
  RemoveGuard guard(partial);
  if (::fchmod(out.get(), 0600) != 0) return errno_error(partial);  // whatever the umask
  if (auto written = write_archive(out.get(), manifest, sources); !written) return written;
  if (::fsync(out.get()) != 0) return errno_error(partial);
  if (::rename(partial.c_str(), path.c_str()) != 0) return errno_error(path);
  guard.release();
  return ok();
}

}  // namespace

CommandOutcome backup_create(const BackupOptions& options) {
  auto state = copy_state(options.data_dir, options.file);
  if (!state) return runtime(state.error());
  auto sources = gather(options, state->get());
  if (!sources) return runtime(sources.error());
  Manifest manifest;
  manifest.cloudlink_version = CLOUDLINK_VERSION;
  manifest.created_at = utc_now();
  std::string summary;
  for (const MemberSource& source : *sources) {
    auto member = describe(source);
    if (!member) return runtime(member.error());
    summary += " " + member->name + " (" + std::to_string(member->bytes) + " bytes)";
    manifest.members.push_back(std::move(*member));
  }
  if (auto written = write_backup_file(options.file, manifest, *sources); !written) {
    return runtime(written.error());
  }
  return {kExitOk, "backup " + options.file + " at " + manifest.created_at + ":" + summary + "\n"};
}

}  // namespace cloudlink::control::backup
