#include "home-agent/tls/tls_terminator.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "common/log.h"
#include "home-agent/tls/tls_relay.h"
#include "home-agent/tunnel/target_connect.h"

namespace cloudlink::home {
namespace {

constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr int kTargetConnectMs = 3000;
constexpr int kAcceptPollMs = 200;

// The service, connected within timeout_ms (each of its addresses in turn); on this
// connection's own thread, so waiting blocks nobody else.
Result<UniqueFd> connect_service(const std::string& host, uint16_t port, int timeout_ms) {
  auto connector = TargetConnector::start(host, port);
  if (!connector) return connector.error();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    switch (connector->check()) {
      case TargetConnector::State::kConnected:
        return connector->take();
      case TargetConnector::State::kFailed:
        return Error(ECONNREFUSED, connector->error());
      case TargetConnector::State::kPending:
        break;
    }
    pollfd fd{connector->fd(), POLLOUT, 0};
    ::poll(&fd, 1, 100);
  }
  return Error(ETIMEDOUT, "connect " + connector->where() + ": no answer");
}

Result<UniqueFd> listen_loopback(uint16_t* port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return errno_error("TLS terminator: socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd.get(), 128) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return errno_error("TLS terminator: listen on 127.0.0.1");
  }
  *port = ntohs(address.sin_port);
  return fd;
}

}  // namespace

TlsTerminator::TlsTerminator(std::string hostname, CertificatePaths paths, std::string target_host,
                             uint16_t target_port)
    : hostname_(std::move(hostname)),
      paths_(std::move(paths)),
      target_host_(std::move(target_host)),
      target_port_(target_port) {}

Result<std::unique_ptr<TlsTerminator>> TlsTerminator::start(std::string hostname,
                                                            CertificatePaths paths,
                                                            std::string target_host,
                                                            uint16_t target_port) {
  std::unique_ptr<TlsTerminator> terminator(new TlsTerminator(std::move(hostname), std::move(paths),
                                                              std::move(target_host), target_port));
  auto listener = listen_loopback(&terminator->port_);
  if (!listener) return listener.error();
  terminator->listener_ = std::move(*listener);
  (void)terminator->context();  // says at start whether a certificate is there
  TlsTerminator* self = terminator.get();
  terminator->acceptor_ = std::thread([self] { self->accept_loop(); });
  return terminator;
}

TlsTerminator::~TlsTerminator() {
  stop_.store(true);
  if (acceptor_.joinable()) acceptor_.join();
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return active_ == 0; });
}

tls::SslCtxPtr TlsTerminator::context() {
  std::lock_guard lock(mutex_);
  if (tls_) return tls_->current();
  auto opened = tls::TlsContext::open(paths_.chain, paths_.key);
  if (!opened) {
    if (opened.error().message() != last_problem_) {
      last_problem_ = opened.error().message();
      log_warn("terminate-tls %s: no certificate yet, connections are closed: %s",
               hostname_.c_str(), last_problem_.c_str());
    }
    return nullptr;
  }
  tls_ = std::move(*opened);
  log_line("terminate-tls %s: serving %s", hostname_.c_str(), paths_.chain.c_str());
  return tls_->current();
}

void TlsTerminator::accept_loop() {
  while (!stop_.load()) {
    pollfd fd{listener_.get(), POLLIN, 0};
    if (::poll(&fd, 1, kAcceptPollMs) <= 0) continue;
    UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!client) continue;
    {
      std::lock_guard lock(mutex_);
      ++active_;
    }
    std::thread([this, fd = std::move(client)]() mutable {
      serve(std::move(fd));
      std::lock_guard lock(mutex_);
      if (--active_ == 0) idle_.notify_all();
    }).detach();
  }
}

void TlsTerminator::serve(UniqueFd client) {
  tls::SslCtxPtr context = this->context();
  if (!context) return;
  SslPtr ssl(SSL_new(context.get()));
  if (!ssl) return;
  TlsRelay relay(std::move(ssl), std::move(client));
  if (auto shaken = relay.handshake(kHandshakeTimeout, stop_); !shaken) return;
  auto target = connect_service(target_host_, target_port_, kTargetConnectMs);
  if (!target) {
    log_warn("terminate-tls %s: %s", hostname_.c_str(), target.error().message().c_str());
    return;
  }
  relay.run(std::move(*target), stop_);
}

}  // namespace cloudlink::home
