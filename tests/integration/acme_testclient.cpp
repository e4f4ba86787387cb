// Test driver for common/acme against a real ACME server (pebble): registers the account
// (key file created or reused), answers HTTP-01 from its own responder on --challenge-port,
// and writes the certificate key (0600) and full chain into --out atomically. Prints one
// error line and exits 1 on failure; the files are untouched then.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "common/acme/acme_client.h"
#include "common/acme/challenge_server.h"
#include "common/acme/secret_file.h"
#include "common/log.h"

int main(int argc, char** argv) {
  using namespace cloudlink::acme;
  cloudlink::log_program_name() = "acme_testclient";
  CLI::App app{"ACME test client"};
  AcmeOptions options;
  std::string account_key_path;
  std::vector<std::string> hostnames;
  std::string out_dir;
  uint16_t challenge_port = 0;
  app.add_option("--directory", options.directory_url)->required();
  app.add_option("--ca-bundle", options.ca_bundle);
  app.add_option("--account-key", account_key_path)->required();
  app.add_option("--hostname", hostnames)->required();
  app.add_option("--challenge-port", challenge_port)->required();
  app.add_option("--out", out_dir)->required();
  CLI11_PARSE(app, argc, argv);
  options.poll_interval = std::chrono::milliseconds(200);
  options.order_deadline = std::chrono::seconds(60);

  auto fail = [](const cloudlink::Error& error) {
    cloudlink::log_line("%s", error.message().c_str());
    return 1;
  };
  auto key = AccountKey::load_or_create(account_key_path);
  if (!key) return fail(key.error());
  auto responder = HttpChallengeServer::start("127.0.0.1", challenge_port);
  if (!responder) return fail(responder.error());
  auto client = AcmeClient::connect(options, std::move(key).value());
  if (!client) return fail(client.error());
  if (auto r = (*client)->register_account(); !r) return fail(r.error());
  auto issued = (*client)->issue(hostnames, **responder);
  if (!issued) return fail(issued.error());
  if ((*responder)->published() != 0) {
    cloudlink::log_line("a challenge token is still published");
    return 1;
  }
  if (auto w = write_secret_file(out_dir + "/key.pem", issued->key_pem); !w) return fail(w.error());
  if (auto w = write_secret_file(out_dir + "/fullchain.pem", issued->chain_pem, 0644); !w) {
    return fail(w.error());
  }
  std::printf("account %s\ncertificate for %s written to %s\n", (*client)->account_url().c_str(),
              hostnames.front().c_str(), out_dir.c_str());
  return 0;
}
