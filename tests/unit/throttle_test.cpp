// The in-memory throttles of control/state/throttle.h on an injected clock: counts decay in a
// sliding window, login delays double from the free failures on and are forgotten after a
// success, sign-up style rate limits say how long to wait, and the key table stays bounded.
#include "control/state/throttle.h"

#include <gtest/gtest.h>

#include <string>

namespace cloudlink::state {
namespace {

constexpr int64_t kWindow = 900;
// Aligned to a bucket start, so the arithmetic below is exact.
constexpr int64_t kStart = 1'700'000'100 - 1'700'000'100 % kWindow;

TEST(SlidingWindow, CountsDecayOverOneWindowAndAreGoneAfterTwo) {
  SlidingWindow window(kWindow);
  for (int i = 0; i < 20; ++i) window.add("k", kStart + 10);
  EXPECT_DOUBLE_EQ(window.count("k", kStart + 10), 20);
  EXPECT_DOUBLE_EQ(window.count("k", kStart + kWindow - 1), 20);
  // A window later, half of the previous bucket still lies inside the last 900 s.
  EXPECT_DOUBLE_EQ(window.count("k", kStart + kWindow + kWindow / 2), 10);
  EXPECT_DOUBLE_EQ(window.count("k", kStart + 2 * kWindow), 0);
  EXPECT_DOUBLE_EQ(window.count("other", kStart), 0);
  // New events after a quiet spell start from what is left.
  EXPECT_DOUBLE_EQ(window.add("k", kStart + kWindow + kWindow / 2), 11);
  window.reset("k");
  EXPECT_DOUBLE_EQ(window.count("k", kStart + kWindow + kWindow / 2), 0);
}

TEST(SlidingWindow, ABackwardClockStepDoesNotLoseOrInventEvents) {
  SlidingWindow window(kWindow);
  window.add("k", kStart + kWindow + 5);
  window.add("k", kStart + 5);  // the clock stepped back a window
  EXPECT_DOUBLE_EQ(window.count("k", kStart + kWindow + 5), 2);
}

TEST(SlidingWindow, StaysBoundedUnderASprayOfKeys) {
  SlidingWindow window(kWindow);
  for (size_t i = 0; i < SlidingWindow::kMaxKeys + 5000; ++i) {
    window.add("203.0." + std::to_string(i), kStart + static_cast<int64_t>(i % 600));
  }
  EXPECT_LE(window.tracked(), SlidingWindow::kMaxKeys);
  EXPECT_GE(window.tracked(), SlidingWindow::kMaxKeys / 2);
  // The newest keys are kept.
  EXPECT_GT(window.count("203.0." + std::to_string(SlidingWindow::kMaxKeys + 4999), kStart + 600),
            0);
}

TEST(LoginThrottle, FreeFailuresThenDoublingDelaysCapped) {
  LoginThrottle throttle(5, 1, 900, kWindow);
  int64_t now = kStart;
  for (int i = 0; i < 4; ++i) throttle.record_failure("alice", now);
  EXPECT_EQ(throttle.wait_seconds("alice", now), 0);
  throttle.record_failure("alice", now);  // the fifth
  EXPECT_EQ(throttle.wait_seconds("alice", now), 1);
  EXPECT_EQ(throttle.wait_seconds("alice", now + 1), 0);
  throttle.record_failure("alice", now + 1);
  EXPECT_EQ(throttle.wait_seconds("alice", now + 1), 2);
  throttle.record_failure("alice", now + 3);
  EXPECT_EQ(throttle.wait_seconds("alice", now + 3), 4);
  for (int i = 0; i < 40; ++i) throttle.record_failure("alice", now + 10);
  EXPECT_EQ(throttle.wait_seconds("alice", now + 10), 900);
  EXPECT_EQ(throttle.wait_seconds("bob", now + 10), 0);
}

TEST(LoginThrottle, ABucketBoundaryDoesNotDropARecentFailure) {
  LoginThrottle throttle(5, 1, 900, kWindow);
  for (int i = 0; i < 6; ++i) throttle.record_failure("alice", kStart + kWindow - 1);
  EXPECT_EQ(throttle.failures("alice", kStart + kWindow), 6u);
  EXPECT_EQ(throttle.wait_seconds("alice", kStart + kWindow), 1);
}

TEST(LoginThrottle, ASuccessForgetsTheUsersFailures) {
  LoginThrottle throttle(5, 1, 900, kWindow);
  for (int i = 0; i < 4; ++i) throttle.record_failure("alice", kStart);
  throttle.reset("alice");
  EXPECT_EQ(throttle.failures("alice", kStart), 0u);
  // Four more failures are free again.
  for (int i = 0; i < 4; ++i) throttle.record_failure("alice", kStart + 1);
  EXPECT_EQ(throttle.wait_seconds("alice", kStart + 1), 0);
}

TEST(LoginThrottle, FailuresDecayWithoutAnySuccess) {
  // One source (every client behind a proxy that sends no PROXY header) made 20 failures:
  // the source is slowed, and a window or two later it is not, with no success in between.
  LoginThrottle throttle(20, 1, 900, kWindow);
  for (int i = 0; i < 30; ++i) throttle.record_failure("127.0.0.1", kStart + 60);
  EXPECT_EQ(throttle.failures("127.0.0.1", kStart + 60), 30u);
  EXPECT_EQ(throttle.wait_seconds("127.0.0.1", kStart + 61), 900 - 1);
  // 900 s after the last failure the delay has run out even at the old count...
  EXPECT_EQ(throttle.wait_seconds("127.0.0.1", kStart + 60 + 900), 0);
  // ...and the count itself decays: half a window later it is under the free 20.
  EXPECT_LT(throttle.failures("127.0.0.1", kStart + kWindow + kWindow / 2), 20u);
  EXPECT_EQ(throttle.failures("127.0.0.1", kStart + 2 * kWindow), 0u);
  throttle.record_failure("127.0.0.1", kStart + 2 * kWindow);
  EXPECT_EQ(throttle.wait_seconds("127.0.0.1", kStart + 2 * kWindow), 0);
}

TEST(RateLimit, AllowsLimitPerWindowThenSaysHowLongToWait) {
  RateLimit limit(3, 3600);
  const int64_t start = kStart - kStart % 3600;
  EXPECT_EQ(limit.acquire("198.51.100.1", start), 0);
  EXPECT_EQ(limit.acquire("198.51.100.1", start + 1), 0);
  EXPECT_EQ(limit.acquire("198.51.100.1", start + 2), 0);
  int64_t wait = limit.acquire("198.51.100.1", start + 3);
  EXPECT_GT(wait, 0);
  EXPECT_LE(wait, 2 * 3600);
  EXPECT_EQ(limit.acquire("198.51.100.2", start + 3), 0);  // another source
  // A refusal counts nothing: after the wait, one more fits, and not two.
  EXPECT_GT(limit.acquire("198.51.100.1", start + 3 + wait - 1), 0);
  EXPECT_EQ(limit.acquire("198.51.100.1", start + 3 + wait), 0);
  EXPECT_GT(limit.acquire("198.51.100.1", start + 3 + wait), 0);
}

}  // namespace
}  // namespace cloudlink::state
