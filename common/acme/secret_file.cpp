#include "common/acme/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/unique_fd.h"

namespace cloudlink::acme {

Result<std::string> read_small_file(const std::string& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno_error(path);
  std::string out;
  char buffer[8192];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error(path);
    }
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
    if (out.size() > max_bytes) return Error(EFBIG, path + ": larger than expected");
  }
  return out;
}

Result<void> write_secret_file(const std::string& path, std::string_view content, mode_t mode) {
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  {
    UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd) return errno_error(temporary);
    ::fchmod(fd.get(), mode);  // whatever the umask
    size_t written = 0;
    while (written < content.size()) {
      const ssize_t n = ::write(fd.get(), content.data() + written, content.size() - written);
      if (n < 0) {
        if (errno == EINTR) continue;
        Error error = errno_error(temporary);
        ::unlink(temporary.c_str());
        return error;
      }
      written += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0) {
      Error error = errno_error(temporary);
      ::unlink(temporary.c_str());
      return error;
    }
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    Error error = errno_error(path);
    ::unlink(temporary.c_str());
    return error;
  }
  return ok();
}

}  // namespace cloudlink::acme
