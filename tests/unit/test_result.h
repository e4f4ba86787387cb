// GoogleTest helpers for Result<T>: a failed expectation prints the error's message.
#pragma once

#include <gtest/gtest.h>

#include "common/result.h"

namespace cloudlink::testing {

template <typename R>
::testing::AssertionResult is_ok(const R& result) {
  if (result.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "error: " << result.error().message();
}

template <typename R>
::testing::AssertionResult is_err(const R& result) {
  if (!result.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected an error, got a value";
}

// The error message contains needle (so tests check that errors say why).
template <typename R>
::testing::AssertionResult is_err_with(const R& result, std::string_view needle) {
  if (result.ok()) return ::testing::AssertionFailure() << "expected an error, got a value";
  if (result.error().message().find(needle) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "error '" << result.error().message() << "' does not mention '" << needle << "'";
}

}  // namespace cloudlink::testing

#define EXPECT_OK(expr) EXPECT_TRUE(::cloudlink::testing::is_ok(expr))
#define ASSERT_OK(expr) ASSERT_TRUE(::cloudlink::testing::is_ok(expr))
#define EXPECT_ERR(expr) EXPECT_TRUE(::cloudlink::testing::is_err(expr))
#define EXPECT_ERR_WITH(expr, needle) EXPECT_TRUE(::cloudlink::testing::is_err_with(expr, needle))
