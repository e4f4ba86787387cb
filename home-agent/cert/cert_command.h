// `cloudlink-home cert HOSTNAME [--email E] [--directory URL] [--ca-bundle FILE]`: one ACME
// order now (home-agent/cert/order_certificate.h). The ACME settings given are saved into
// cloudlink.yaml's acme section, so `run` renews with the same ones.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace cloudlink::home {

struct CertOptions {
  std::string hostname;
  std::string directory;
  std::string email;
  std::string ca_bundle;          // for the ACME server
  std::string control_ca_bundle;  // for the control API ("": system store)
  std::string config_flag;        // the command's own --config
};

class CertCli {
 public:
  explicit CertCli(CLI::App& app);  // app must outlive this object
  // After parsing: the exit status when `cert` was given, else -1.
  int run(const std::string& global_config_flag);

 private:
  CLI::App* command_ = nullptr;
  CertOptions options_;
};

int cert_command(const std::string& config_path, const CertOptions& options);

}  // namespace cloudlink::home
