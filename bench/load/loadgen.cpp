// cloudlink-loadgen: drives a TLS SNI router (cloudlink-dataplane, HAProxy, nginx) with
// connections that open with a real-looking ClientHello, then stream bulk bytes, ping-pong
// small messages, or churn through connect-request-reply-close. Prints one JSON line.
#include <signal.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <random>
#include <thread>

#include "bench/load/load_worker.h"
#include "common/log.h"

namespace {

using namespace cloudlink::bench;

struct Totals {
  uint64_t bytes_up = 0;
  uint64_t bytes_down = 0;
  uint64_t total_bytes = 0;
  uint64_t completed = 0;
  uint64_t errors = 0;
  double rate_bytes = 0;      // summed per-thread rates: each thread's window is its own
  double rate_completed = 0;  // per second
  double measured_seconds = 0;
  std::vector<uint64_t> latencies_ns;
  std::string first_error;
};

Totals merge(std::vector<WorkerResult>& results) {
  Totals t;
  for (WorkerResult& r : results) {
    t.bytes_up += r.window_bytes_up;
    t.bytes_down += r.window_bytes_down;
    t.total_bytes += r.total_bytes_up + r.total_bytes_down;
    t.completed += r.completed;
    t.errors += r.errors;
    t.measured_seconds = std::max(t.measured_seconds, r.measured_seconds);
    if (r.measured_seconds > 0) {
      t.rate_bytes +=
          static_cast<double>(r.window_bytes_up + r.window_bytes_down) / r.measured_seconds;
      t.rate_completed += static_cast<double>(r.completed) / r.measured_seconds;
    }
    t.latencies_ns.insert(t.latencies_ns.end(), r.latencies_ns.begin(), r.latencies_ns.end());
    if (t.first_error.empty()) t.first_error = r.first_error;
  }
  return t;
}

// Nearest-rank percentile in microseconds; 0 when there are no samples.
double percentile_us(std::vector<uint64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return static_cast<double>(sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1]) / 1000.0;
}

// This process's user+system CPU so far, so a harness can tell its share of the machine's.
double own_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  }
  return out;
}

void print_json(const LoadOptions& o, const std::string& mode, const std::string& direction,
                Totals& t) {
  std::sort(t.latencies_ns.begin(), t.latencies_ns.end());
  bool bulk = o.mode == LoadMode::kBulk;
  std::printf(
      "{\"mode\":\"%s\",\"direction\":\"%s\",\"target\":\"%s\",\"sni\":\"%s\","
      "\"threads\":%u,\"connections\":%u,\"size\":%u,\"client_closes\":%s,\"warmup_s\":%.3f,"
      "\"duration_s\":%.3f,"
      "\"bytes_up\":%" PRIu64 ",\"bytes_down\":%" PRIu64 ",\"total_bytes\":%" PRIu64
      ",\"gbit_per_s\":%.4f,\"requests\":%" PRIu64
      ",\"requests_per_s\":%.1f,\"connections_per_s\":%.1f,"
      "\"p50_us\":%.1f,\"p99_us\":%.1f,\"samples\":%zu,\"errors\":%" PRIu64
      ",\"cpu_s\":%.3f,\"first_error\":\"%s\"}\n",
      mode.c_str(), bulk ? direction.c_str() : "", o.target.to_string().c_str(),
      json_escape(o.server_name).c_str(), o.threads, o.connections, o.size,
      o.client_closes ? "true" : "false", o.warmup_seconds, t.measured_seconds, t.bytes_up,
      t.bytes_down, t.total_bytes, t.rate_bytes * 8 / 1e9,
      o.mode == LoadMode::kPingPong ? t.completed : 0,
      o.mode == LoadMode::kPingPong ? t.rate_completed : 0.0,
      o.mode == LoadMode::kChurn ? t.rate_completed : 0.0, percentile_us(t.latencies_ns, 0.50),
      percentile_us(t.latencies_ns, 0.99), t.latencies_ns.size(), t.errors, own_cpu_seconds(),
      json_escape(t.first_error).c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  cloudlink::log_program_name() = "cloudlink-loadgen";
  signal(SIGPIPE, SIG_IGN);
  CLI::App app{"cloudlink-loadgen: ClientHello-first TCP load against an SNI router"};
  LoadOptions o;
  std::string target, mode = "bulk", direction = "up";
  app.add_option("--target", target, "ADDR:PORT of the proxy")->required();
  app.add_option("--sni", o.server_name, "server_name in the ClientHello")->capture_default_str();
  app.add_option("--mode", mode, "bulk | pingpong | churn")
      ->check(CLI::IsMember({"bulk", "pingpong", "churn"}))
      ->capture_default_str();
  app.add_option("--direction", direction, "bulk: up (to server) | down | both")
      ->check(CLI::IsMember({"up", "down", "both"}))
      ->capture_default_str();
  app.add_option("--connections,-c", o.connections, "parallel connections (churn: slots)")
      ->check(CLI::Range(1u, 100000u))
      ->capture_default_str();
  app.add_option("--threads", o.threads, "threads, each with its own epoll")
      ->check(CLI::Range(1u, 256u))
      ->capture_default_str();
  app.add_option("--duration", o.duration_seconds, "measured seconds")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--warmup", o.warmup_seconds, "seconds before measuring")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  app.add_option("--size", o.size, "ping-pong message / churn request and reply bytes")
      ->check(CLI::Range(1u, 256u * 1024u))
      ->capture_default_str();
  app.add_option("--bytes", o.bytes, "bulk: bytes per connection and direction (0: no limit)")
      ->capture_default_str();
  app.add_flag("--client-closes", o.client_closes,
               "churn: the backend echoes, the client closes once the echo is in");
  app.add_option("--timeout", o.timeout_seconds, "connect / round-trip / churn deadline, s")
      ->check(CLI::Range(0.01, 600.0))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto address = cloudlink::SocketAddress::parse(target);
  if (!address) {
    cloudlink::log_line("--target %s: %s", target.c_str(), address.error().message().c_str());
    return 2;
  }
  o.target = *address;
  static const std::map<std::string, LoadMode> kModes = {
      {"bulk", LoadMode::kBulk}, {"pingpong", LoadMode::kPingPong}, {"churn", LoadMode::kChurn}};
  static const std::map<std::string, Direction> kDirections = {
      {"up", Direction::kUp}, {"down", Direction::kDown}, {"both", Direction::kBoth}};
  o.mode = kModes.at(mode);
  o.direction = kDirections.at(direction);
  o.threads = std::min(o.threads, o.connections);

  LoadWindow window;
  window.measure_from = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(o.warmup_seconds));
  window.measure_until =
      window.measure_from + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(o.duration_seconds));
  std::vector<WorkerResult> results(o.threads);
  std::vector<std::thread> threads;
  std::random_device entropy;
  for (uint32_t i = 0; i < o.threads; ++i) {
    uint32_t share = o.connections / o.threads + (i < o.connections % o.threads ? 1 : 0);
    uint64_t seed = (uint64_t{entropy()} << 32) | entropy();
    threads.emplace_back(
        [&, i, share, seed] { results[i] = run_load_worker(o, window, share, seed); });
  }
  for (auto& t : threads) t.join();
  Totals totals = merge(results);
  print_json(o, mode, direction, totals);
  bool measured_anything =
      o.mode == LoadMode::kBulk ? totals.bytes_up + totals.bytes_down > 0 : totals.completed > 0;
  if (!measured_anything) {
    cloudlink::log_line("nothing measured (%" PRIu64 " errors; first: %s)", totals.errors,
                        totals.first_error.empty() ? "none" : totals.first_error.c_str());
    return 1;
  }
  return 0;
}
