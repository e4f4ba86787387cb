#include "home-agent/config/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "common/unique_fd.h"

namespace cloudlink::home {

namespace {

std::string folder_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Result<void> write_all(int fd, std::string_view content, const std::string& path) {
  while (!content.empty()) {
    ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error(path + ": cannot write");
    }
    content.remove_prefix(static_cast<size_t>(n));
  }
  return ok();
}

}  // namespace

Result<std::string> read_bounded_file(const std::string& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error(path + ": cannot read");
  std::string text;
  char buffer[16384];
  while (true) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error(path + ": cannot read");
    }
    if (n == 0) break;
    if (text.size() + static_cast<size_t>(n) > max_bytes) {
      return Error(EFBIG, path + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
    text.append(buffer, static_cast<size_t>(n));
  }
  return text;
}

Result<void> write_file_atomically(const std::string& path, std::string_view content, mode_t mode) {
  std::string temp = path + ".tmp." + std::to_string(::getpid());
  // O_EXCL: never follow or reuse a file someone else left at the temporary name.
  ::unlink(temp.c_str());
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd) return errno_error(temp + ": cannot create");
  // The umask may have narrowed mode; a key file must be exactly what was asked.
  if (::fchmod(fd.get(), mode) != 0) return errno_error(temp + ": cannot chmod");
  auto written = write_all(fd.get(), content, temp);
  if (written.ok() && ::fsync(fd.get()) != 0) written = errno_error(temp + ": cannot fsync");
  if (written.ok() && ::rename(temp.c_str(), path.c_str()) != 0) {
    written = errno_error(path + ": cannot replace");
  }
  if (!written.ok()) {
    ::unlink(temp.c_str());
    return written;
  }
  UniqueFd dir(::open(folder_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir) ::fsync(dir.get());  // best effort: the rename is already visible
  return ok();
}

}  // namespace cloudlink::home
