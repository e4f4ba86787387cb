#include "control/data_owner.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <vector>

namespace cloudlink::control {
namespace {

// Sets owner and mode of one path when they differ; counts what it changed.
Result<void> settle(const std::string& path, const DataOwner& owner, std::optional<mode_t> mode,
                    size_t& changed) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return errno_error("stat " + path);
  if (S_ISLNK(st.st_mode)) return ok();  // never follow a link out of the folder
  if (st.st_uid != owner.uid || st.st_gid != owner.gid) {
    if (::lchown(path.c_str(), owner.uid, owner.gid) != 0) return errno_error("chown " + path);
    ++changed;
  }
  if (mode && (st.st_mode & 07777) != *mode) {
    if (::chmod(path.c_str(), *mode) != 0) return errno_error("chmod " + path);
    ++changed;
  }
  return ok();
}

// The folder and everything under it; group_writable: directories 0770 and files 0660 (what
// control makes under UMask=0007), else modes stay.
Result<void> settle_tree(const std::string& dir, const DataOwner& owner, bool group_writable,
                         size_t& changed) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(dir, ec))) return ok();
  auto dir_mode = group_writable ? std::optional<mode_t>(0770) : std::nullopt;
  if (auto done = settle(dir, owner, dir_mode, changed); !done) return done;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const bool is_dir = it->is_directory(ec) && !it->is_symlink(ec);
    std::optional<mode_t> mode;
    if (group_writable) mode = is_dir ? 0770 : 0660;
    if (auto done = settle(it->path().string(), owner, mode, changed); !done) return done;
  }
  if (ec) return Error(ec, "walk " + dir);
  return ok();
}

}  // namespace

Result<DataOwner> lookup_data_owner(const std::string& user) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  int rc = ::getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (rc != 0) return Error(rc, "getpwnam " + user);
  if (found == nullptr) return invalid("no user " + user);
  DataOwner owner{user, entry.pw_uid, entry.pw_gid, std::to_string(entry.pw_gid)};
  group group_entry{};
  group* group_found = nullptr;
  if (::getgrgid_r(entry.pw_gid, &group_entry, buffer.data(), buffer.size(), &group_found) == 0 &&
      group_found != nullptr) {
    owner.group = group_found->gr_name;
  }
  return owner;
}

Result<std::string> give_data_folder(const std::string& data_dir, const DataOwner& owner) {
  size_t changed = 0;
  if (auto done = settle(data_dir, owner, 0750, changed); !done) return done.error();
  for (const char* sub : {"state", "routes"}) {
    if (auto done = settle_tree(data_dir + "/" + sub, owner, true, changed); !done) {
      return done.error();
    }
  }
  for (const char* sub : {"acme", "tls"}) {
    if (auto done = settle_tree(data_dir + "/" + sub, owner, false, changed); !done) {
      return done.error();
    }
  }
  if (changed == 0) return std::string();
  return data_dir + ": owner " + owner.user + ":" + owner.group +
         ", mode 0750; state/ and routes/ group-writable";
}

}  // namespace cloudlink::control
