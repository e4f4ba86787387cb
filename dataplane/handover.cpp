#include "dataplane/handover.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace cloudlink::dataplane {
namespace {

constexpr uint32_t kMagic = 0x434c4850;  // "CLHP"
constexpr uint32_t kVersion = 1;

enum class Kind : uint32_t { kOffer = 1, kBatch = 2, kReady = 3, kReleased = 4 };

struct Message {
  uint32_t magic = kMagic;
  uint32_t version = kVersion;
  Kind kind = Kind::kOffer;
  uint32_t value = 0;  // kOffer: total count; kBatch: fds in this message; kReady: pid
};
static_assert(sizeof(Message) == 16);

Result<void> send_message(int sock, const Message& m, const int* fds, size_t nfds) {
  iovec iov{const_cast<Message*>(&m), sizeof m};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kFdsPerBatch)];
  if (nfds > 0) {
    std::memset(control, 0, sizeof control);
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    std::memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
  }
  while (true) {
    ssize_t sent = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (sent == static_cast<ssize_t>(sizeof m)) return ok();
    if (sent < 0 && errno == EINTR) continue;
    return errno_error("handover: send");
  }
}

Result<void> wait_readable(int sock, std::chrono::milliseconds timeout, const char* what) {
  pollfd p{sock, POLLIN, 0};
  while (true) {
    int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (n > 0) return ok();
    if (n == 0) return Error(ETIMEDOUT, std::string("handover: waiting for ") + what);
    if (errno != EINTR) return errno_error("handover: poll");
  }
}

// Receives one message and the descriptors it carries (close-on-exec, owned by *fds).
Result<Message> receive_message(int sock, std::chrono::milliseconds timeout, const char* what,
                                std::vector<UniqueFd>* fds) {
  if (auto r = wait_readable(sock, timeout, what); !r) return r.error();
  Message m;
  iovec iov{&m, sizeof m};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kFdsPerBatch)];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t got;
  do {
    got = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return errno_error(std::string("handover: waiting for ") + what);
  // Take ownership of whatever arrived before judging the message, so nothing leaks.
  for (cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm != nullptr; cm = CMSG_NXTHDR(&msg, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    const size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
      UniqueFd owned(fd);
      if (fds != nullptr) fds->push_back(std::move(owned));
    }
  }
  if (got == 0) {
    return Error(EPIPE, std::string("handover: the other process went away before ") + what);
  }
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || got != sizeof m || m.magic != kMagic ||
      m.version != kVersion) {
    return invalid(std::string("handover: a malformed message instead of ") + what);
  }
  return m;
}

Result<Message> expect(int sock, Kind kind, std::chrono::milliseconds timeout, const char* what,
                       std::vector<UniqueFd>* fds = nullptr) {
  auto m = receive_message(sock, timeout, what, fds);
  if (!m) return m.error();
  if (m->kind != kind)
    return invalid(std::string("handover: an unexpected message instead of ") + what);
  return m;
}

}  // namespace

Result<void> send_listeners(int sock, const std::vector<int>& listeners) {
  Message offer;
  offer.kind = Kind::kOffer;
  offer.value = static_cast<uint32_t>(listeners.size());
  if (auto r = send_message(sock, offer, nullptr, 0); !r) return r;
  for (size_t at = 0; at < listeners.size(); at += kFdsPerBatch) {
    const size_t n = std::min(kFdsPerBatch, listeners.size() - at);
    Message batch;
    batch.kind = Kind::kBatch;
    batch.value = static_cast<uint32_t>(n);
    if (auto r = send_message(sock, batch, listeners.data() + at, n); !r) return r;
  }
  return ok();
}

Result<pid_t> wait_ready(int sock, std::chrono::milliseconds timeout) {
  auto m = expect(sock, Kind::kReady, timeout, "the successor to be ready");
  if (!m) return m.error();
  return static_cast<pid_t>(m->value);
}

Result<void> send_released(int sock) {
  Message m;
  m.kind = Kind::kReleased;
  return send_message(sock, m, nullptr, 0);
}

Result<std::vector<UniqueFd>> receive_listeners(int sock, std::chrono::milliseconds timeout) {
  auto offer = expect(sock, Kind::kOffer, timeout, "the listeners");
  if (!offer) return offer.error();
  if (offer->value > kMaxHandedListeners) return invalid("handover: too many listeners offered");
  std::vector<UniqueFd> fds;
  fds.reserve(offer->value);
  while (fds.size() < offer->value) {
    const size_t before = fds.size();
    auto batch = expect(sock, Kind::kBatch, timeout, "the listeners", &fds);
    if (!batch) return batch.error();
    if (fds.size() - before != batch->value || batch->value == 0) {
      return invalid("handover: a batch without the descriptors it announced");
    }
  }
  if (fds.size() != offer->value) return invalid("handover: more descriptors than offered");
  return fds;
}

Result<void> send_ready(int sock) {
  Message m;
  m.kind = Kind::kReady;
  m.value = static_cast<uint32_t>(::getpid());
  return send_message(sock, m, nullptr, 0);
}

Result<void> wait_released(int sock, std::chrono::milliseconds timeout) {
  auto m = expect(sock, Kind::kReleased, timeout, "the old process to let go");
  if (!m) return m.error();
  return ok();
}

}  // namespace cloudlink::dataplane
