// One load-generator thread: an epoll loop driving its share of the connections in one of
// three shapes (bulk stream, ping-pong, connect-request-close churn) inside a fixed window.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/socket_address.h"

namespace cloudlink::bench {

enum class LoadMode { kBulk, kPingPong, kChurn };
enum class Direction { kUp, kDown, kBoth };

struct LoadOptions {
  LoadMode mode = LoadMode::kBulk;
  Direction direction = Direction::kUp;
  SocketAddress target;
  std::string server_name = "bench.test";
  uint32_t connections = 8;
  uint32_t threads = 1;
  double warmup_seconds = 1;
  double duration_seconds = 10;
  uint32_t size = 64;          // ping-pong message, churn request and reply
  uint64_t bytes = 0;          // bulk: per connection and direction; 0 = until the window ends
  double timeout_seconds = 5;  // connect, one round trip, one churn connection
  // churn: the backend echoes and the client closes once the echo is in (connect, send, read
  // the echo, close), instead of the backend replying and closing first.
  bool client_closes = false;
};

using Clock = std::chrono::steady_clock;

// Counting starts at measure_from (the end of the warm-up) and everything stops at
// measure_until, so every run is bounded in time whatever the peer does.
struct LoadWindow {
  Clock::time_point measure_from;
  Clock::time_point measure_until;
};

struct WorkerResult {
  uint64_t window_bytes_up = 0;  // written by us inside the window
  uint64_t window_bytes_down = 0;
  uint64_t total_bytes_up = 0;  // whole run, warm-up included
  uint64_t total_bytes_down = 0;
  uint64_t completed = 0;  // round trips (ping-pong) or connections (churn) inside the window
  uint64_t errors = 0;
  double measured_seconds = 0;
  std::vector<uint64_t> latencies_ns;  // one per completion inside the window
  std::string first_error;
};

WorkerResult run_load_worker(const LoadOptions& options, const LoadWindow& window,
                             uint32_t connections, uint64_t seed);

}  // namespace cloudlink::bench
