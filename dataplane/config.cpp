#include "dataplane/config.h"

#include <CLI/CLI.hpp>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <thread>

#include "common/cli_parse.h"
#include "common/settings_cli.h"
#include "common/settings_file.h"

namespace cloudlink::dataplane {

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  double scale = 1000.0;
  if (text.ends_with("ms")) {
    scale = 1.0;
    text.remove_suffix(2);
  } else if (text.ends_with("s")) {
    text.remove_suffix(1);
  } else if (text.ends_with("m")) {
    scale = 60000.0;
    text.remove_suffix(1);
  }
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value) || value < 0 || value * scale > 1e12) {
    return invalid("not a duration (use e.g. 5, 0.5, 500ms, 5s, 2m)");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(value * scale)));
}

const char* relay_mode_name(RelayMode mode) {
  switch (mode) {
    case RelayMode::kSplice:
      return "splice";
    case RelayMode::kSockmap:
      return "sockmap";
    case RelayMode::kCopy:
      break;
  }
  return "copy";
}

namespace {

// CLI11 reports problems as exceptions; this is start-up code, so they are caught here and
// turned into one Error.
struct DurationFlag {
  std::string text;
  std::chrono::milliseconds* target;
  const char* name;
};

Result<void> apply_durations(std::vector<DurationFlag>& flags) {
  for (auto& f : flags) {
    if (f.text.empty()) continue;
    auto d = parse_duration(f.text);
    if (!d) return invalid(std::string(f.name) + " " + f.text + ": " + d.error().context());
    *f.target = *d;
  }
  return ok();
}

Result<void> apply_addresses(const std::vector<std::string>& tls,
                             const std::vector<std::string>& http, const std::string& metrics,
                             Config& config) {
  for (const auto& text : tls) {
    auto addr = SocketAddress::parse(text);
    if (!addr) return invalid("--listen-tls " + text + ": " + addr.error().context());
    config.tls_listeners.push_back(*addr);
  }
  for (const auto& text : http) {
    auto addr = SocketAddress::parse(text);
    if (!addr) return invalid("--listen-http " + text + ": " + addr.error().context());
    config.http_listeners.push_back(*addr);
  }
  if (config.tls_listeners.empty()) {
    config.tls_listeners.push_back(*SocketAddress::parse("127.0.0.1:8443"));
  }
  if (!metrics.empty() && metrics != "off") {
    auto addr = SocketAddress::parse(metrics);
    if (!addr) return invalid("--metrics " + metrics + ": " + addr.error().context());
    config.metrics_listener = *addr;
  }
  return ok();
}

// A CLI11 check from one of our parsers, so a flag and a settings file line (which settings_cli
// reports with its file, line and key) refuse the same text with the same words.
template <typename Parse>
CLI::Validator checked_by(const char* name, Parse parse) {
  return CLI::Validator(
      [parse](std::string& text) -> std::string {
        auto r = parse(text);
        return r ? std::string() : r.error().context();
      },
      name);
}

CLI::Validator duration_check() { return checked_by("DURATION", parse_duration); }
CLI::Validator address_check() {
  return checked_by("ADDR:PORT", [](const std::string& t) { return SocketAddress::parse(t); });
}

// Takes `--takeover-fd N` (or `=N`) out of argv: it is between two dataplane processes, not a
// setting, so neither CLI11 nor the settings file sees it.
Result<std::vector<char*>> take_takeover_fd(int argc, char** argv, int& fd) {
  std::vector<char*> rest;
  const std::string_view flag = "--takeover-fd";
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    if (arg == flag) {
      if (i + 1 >= argc) return invalid("--takeover-fd needs a descriptor number");
      value = argv[++i];
    } else if (arg.starts_with("--takeover-fd=")) {
      value = arg.substr(flag.size() + 1);
    } else {
      rest.push_back(argv[i]);
      continue;
    }
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), fd);
    if (ec != std::errc() || end != value.data() + value.size() || fd < 3) {
      return invalid("--takeover-fd " + std::string(value) + ": not a descriptor number");
    }
  }
  return rest;
}

}  // namespace

Result<CommandLine> parse_command_line(int argc, char** argv, const std::string& default_config) {
  CommandLine out;
  Config& c = out.config;
  auto args = take_takeover_fd(argc, argv, c.takeover_fd);
  if (!args) return args.error();
  CLI::App app{
      "cloudlink-dataplane: routes TLS connections by SNI to home tunnels (io_uring relay)",
      "cloudlink-dataplane"};
  std::vector<std::string> tls;
  std::vector<std::string> http;
  std::vector<std::string> proxies;
  std::string metrics = "127.0.0.1:9477";
  std::string relay = "copy";
  std::vector<DurationFlag> durations{{"", &c.hello_timeout, "--hello-timeout"},
                                      {"", &c.connect_timeout, "--connect-timeout"},
                                      {"", &c.idle_timeout, "--idle-timeout"},
                                      {"", &c.drain_timeout, "--drain-timeout"}};
  app.add_option("--data", c.data_dir, "LMDB data directory (routes under DIR/routes)")
      ->capture_default_str();
  app.add_option("--listen-tls", tls, "TLS listener ADDR:PORT, repeatable (default 127.0.0.1:8443)")
      ->check(address_check());
  app.add_option("--listen-http", http,
                 "plain HTTP listener ADDR:PORT (routed by Host), repeatable (default none)")
      ->check(address_check());
  app.add_option("--accept-proxy-from", proxies,
                 "CIDR of a load balancer whose PROXY v1/v2 header is required and trusted, "
                 "repeatable")
      ->check(checked_by("CIDR", [](const std::string& t) { return Cidr::parse(t); }));
  app.add_option("--metrics", metrics, "Prometheus /metrics ADDR:PORT, or off")
      ->check(checked_by("ADDR:PORT|off",
                         [](const std::string& t) -> Result<void> {
                           if (t == "off" || t.empty()) return ok();
                           auto a = SocketAddress::parse(t);
                           if (!a) return a.error();
                           return ok();
                         }))
      ->capture_default_str();
  app.add_option("--workers", c.workers, "worker threads, one io_uring each (default: cores)")
      ->check(CLI::Range(1u, 1024u));
  app.add_option("--relay", relay, "relay mode")
      ->check(CLI::IsMember({"copy", "splice", "sockmap"}))
      ->capture_default_str();
  app.add_flag("--require-bpf", c.require_bpf,
               "--relay sockmap: fail the start if BPF cannot load, instead of using copy");
  app.add_option("--hello-timeout", durations[0].text, "wait for a whole ClientHello (default 5s)")
      ->check(duration_check());
  app.add_option("--connect-timeout", durations[1].text, "connect to a target (default 5s)")
      ->check(duration_check());
  app.add_option("--idle-timeout", durations[2].text, "close a flow idle both ways (default 300s)")
      ->check(duration_check());
  app.add_option("--drain-timeout", durations[3].text,
                 "on SIGTERM or after a handover, let flows finish (default 30s)")
      ->check(duration_check());
  app.add_option("--max-connections", c.max_connections, "connections at once, all workers")
      ->check(CLI::Range(1u, 10000000u))
      ->capture_default_str();
  app.add_option("--buffer-size", c.buffer_size, "copy relay buffer size in bytes")
      ->check(CLI::Range(4096u, 1048576u))
      ->capture_default_str();
  app.add_option("--buffers", c.buffers_per_worker, "copy relay buffers per worker (power of 2)")
      ->check(CLI::Range(8u, 32768u))
      ->check(checked_by("POWER_OF_2",
                         [](const std::string& t) -> Result<void> {
                           unsigned long n = std::strtoul(t.c_str(), nullptr, 10);
                           if ((n & (n - 1)) != 0) return invalid("not a power of 2");
                           return ok();
                         }))
      ->capture_default_str();
  app.add_option("--config", c.config_path,
                 "settings file: name = value per line, names as these flags; a flag overrides "
                 "it (default " +
                     default_config + " when it exists)");
  add_version_flag(app, "cloudlink-dataplane");
  try {
    app.parse(static_cast<int>(args->size()), args->data());
  } catch (const CLI::ParseError& e) {
    // --help and --version arrive as "errors" with exit code 0; CLI11 prints them.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      out.exit_now = true;
      out.exit_code = app.exit(e);
      return out;
    }
    return invalid(e.what());  // main reports it and exits 2 (common/cli_parse.h)
  }
  std::error_code missing;
  if (c.config_path.empty() && !default_config.empty() &&
      std::filesystem::exists(default_config, missing)) {
    c.config_path = default_config;
  }
  if (!c.config_path.empty()) {
    auto settings = read_settings_file(c.config_path);
    if (!settings) return Error(settings.error().code(), "--config " + settings.error().context());
    if (auto applied = apply_settings(app, *settings); !applied) return applied.error();
  }
  if ((c.buffers_per_worker & (c.buffers_per_worker - 1)) != 0) {
    return invalid("--buffers " + std::to_string(c.buffers_per_worker) + ": not a power of 2");
  }
  if (auto r = apply_durations(durations); !r) return r.error();
  if (auto r = apply_addresses(tls, http, metrics, c); !r) return r.error();
  for (const auto& text : proxies) {
    auto network = Cidr::parse(text);
    if (!network) return invalid("--accept-proxy-from " + network.error().context());
    c.trusted_proxies.push_back(*network);
  }
  c.relay = relay == "splice"    ? RelayMode::kSplice
            : relay == "sockmap" ? RelayMode::kSockmap
                                 : RelayMode::kCopy;
  if (c.workers == 0) c.workers = std::max(1u, std::thread::hardware_concurrency());
  return out;
}

}  // namespace cloudlink::dataplane
