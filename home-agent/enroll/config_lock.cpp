#include "home-agent/enroll/config_lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <filesystem>

namespace cloudlink::home {

Result<ConfigLock> ConfigLock::acquire(const std::string& config_path) {
  std::string folder = std::filesystem::path(config_path).parent_path().string();
  if (folder.empty()) folder = ".";
  UniqueFd fd(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return errno_error("lock the folder of " + config_path);
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return errno_error("lock the folder of " + config_path);
  }
  return ConfigLock(std::move(fd));
}

}  // namespace cloudlink::home
