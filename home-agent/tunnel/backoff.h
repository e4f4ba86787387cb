// Capped exponential backoff with jitter for reconnects: 1, 2, 4, 8, 16, 30, 30... seconds,
// each scaled by a random factor in [0.8, 1.2] (and still capped) so that many homes that lost
// the VPS at once do not all come back in the same second.
#pragma once

#include <chrono>
#include <random>

namespace cloudlink::home {

class Backoff {
 public:
  explicit Backoff(std::chrono::milliseconds first = std::chrono::seconds(1),
                   std::chrono::milliseconds cap = std::chrono::seconds(30),
                   unsigned seed = std::random_device{}());

  // The delay before the next attempt; each call doubles the base up to the cap.
  std::chrono::milliseconds next();
  // After a success: the next failure waits `first` again.
  void reset() { attempt_ = 0; }

 private:
  std::chrono::milliseconds first_;
  std::chrono::milliseconds cap_;
  int attempt_ = 0;
  std::mt19937 random_;
};

}  // namespace cloudlink::home
