// cloudlink-home's certificate parts without a network: the pending-mapping slot (one order per
// name, records read back), installing a pair (refusals change nothing), and the TLS
// terminator's half-close (close_notify toward it becomes FIN toward the service, whose answer
// still comes back, then close_notify).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "common/acme/certificate_info.h"
#include "common/acme/secret_file.h"
#include "home-agent/cert/cert_files.h"
#include "home-agent/cert/pending_mapping.h"
#include "home-agent/tls/tls_terminator.h"
#include "tests/unit/temp_dir.h"
#include "tests/unit/test_result.h"

namespace cloudlink::home {
namespace {

using namespace std::chrono_literals;

acme::IssuedCertificate self_signed(const std::string& name) {
  const auto now = std::chrono::system_clock::now();
  auto made = acme::make_self_signed_certificate(name, now - 1h, now + 24h);
  EXPECT_TRUE(made.ok());
  return *made;
}

TEST(PendingSlot, OneOrderPerNameAndRecordsReadBack) {
  testing::TempDir dir;
  const std::string pending = dir.path() + "/cert-pending";
  auto slot = PendingSlot::acquire(pending, "a.example.com");
  ASSERT_OK(slot);
  EXPECT_ERR_WITH(PendingSlot::acquire(pending, "a.example.com"), "right now");
  ASSERT_OK(PendingSlot::acquire(pending, "b.example.com"));  // another name: free
  ASSERT_OK(slot->record({"home1", "a.example.com", 20003, true, std::nullopt}));
  EXPECT_EQ(recorded_ports(pending), std::vector<uint16_t>{20003});
  ASSERT_OK(slot->forget());
  EXPECT_TRUE(recorded_ports(pending).empty());
}

TEST(CertFiles, InstallRefusesAChainForAnotherNameAndChangesNothing) {
  testing::TempDir dir;
  const std::string config = dir.path() + "/cloudlink.yaml";
  const auto paths = certificate_paths(config, AcmeConfig{}, "a.example.com");
  EXPECT_EQ(paths.chain, dir.path() + "/certificates/a.example.com/fullchain.pem");
  EXPECT_FALSE(installed_certificate(paths).has_value());
  EXPECT_ERR_WITH(install_certificate(paths, "a.example.com", self_signed("b.example.com")),
                  "does not name a.example.com");
  EXPECT_NE(::access(paths.dir.c_str(), F_OK), 0);
  ASSERT_OK(install_certificate(paths, "a.example.com", self_signed("a.example.com")));
  auto info = installed_certificate(paths);
  ASSERT_TRUE(info.has_value());
  EXPECT_TRUE(info->covers("a.example.com"));
}

// A service that reads until EOF, then answers "got N bytes" and closes.
class CountingService {
 public:
  CountingService() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(fd_, 4);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] {
      const int client = ::accept(fd_, nullptr, nullptr);
      char buffer[4096];
      size_t total = 0;
      for (ssize_t n; (n = ::read(client, buffer, sizeof buffer)) > 0;) total += n;
      const std::string answer = "got " + std::to_string(total) + " bytes";
      // A short or failed answer shows up in the test's own check of what came back.
      const ssize_t written = ::write(client, answer.data(), answer.size());
      static_cast<void>(written);
      ::close(client);
    });
  }
  ~CountingService() {
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

int connect_loopback(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  return fd;
}

TEST(TlsTerminator, CloseNotifyBecomesFinAndTheAnswerStillComesBack) {
  testing::TempDir dir;
  const auto paths = certificate_paths(dir.path() + "/c.yaml", AcmeConfig{}, "a.example.com");
  ASSERT_OK(install_certificate(paths, "a.example.com", self_signed("a.example.com")));
  CountingService service;
  auto terminator = TlsTerminator::start("a.example.com", paths, "127.0.0.1", service.port());
  ASSERT_OK(terminator);

  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  ASSERT_EQ(SSL_CTX_load_verify_locations(ctx.get(), paths.chain.c_str(), nullptr), 1);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  const int fd = connect_loopback((*terminator)->port());
  SSL_set_fd(ssl.get(), fd);
  SSL_set_tlsext_host_name(ssl.get(), "a.example.com");
  SSL_set1_host(ssl.get(), "a.example.com");
  ASSERT_EQ(SSL_connect(ssl.get()), 1);
  const std::string hello(100000, 'x');
  ASSERT_EQ(SSL_write(ssl.get(), hello.data(), static_cast<int>(hello.size())),
            static_cast<int>(hello.size()));
  SSL_shutdown(ssl.get());  // close_notify: our half is done, theirs is not
  std::string answer;
  char buffer[256];
  for (int n; (n = SSL_read(ssl.get(), buffer, sizeof buffer)) > 0;) answer.append(buffer, n);
  // The service's FIN came back as close_notify, not as a bare TCP close.
  EXPECT_NE(SSL_get_shutdown(ssl.get()) & SSL_RECEIVED_SHUTDOWN, 0);
  EXPECT_EQ(answer, "got 100000 bytes");
  ::close(fd);
}

}  // namespace
}  // namespace cloudlink::home
