#include "common/hostname.h"

#include <gtest/gtest.h>

#include <string>

#include "allocation_counter.h"
#include "test_result.h"

namespace cloudlink {
namespace {

std::string label(size_t length, char c = 'a') { return std::string(length, c); }

// A name of exactly `total` characters made of 63-character labels and one shorter last label.
std::string name_of_length(size_t total) {
  std::string name;
  while (total - name.size() > kMaxLabelLength + 1) name += label(kMaxLabelLength) + ".";
  name += label(total - name.size());
  return name;
}

struct HostCase {
  std::string host;
  const char* why;  // nullptr: valid; otherwise a fragment the error must contain
};

TEST(ValidateRouteHostname, Table) {
  const HostCase cases[] = {
      {"example.com", nullptr},
      {"app.test", nullptr},
      {"localhost", nullptr},
      {"a-b.c0.example", nullptr},
      {"0.example.com", nullptr},
      {"xn--bcher-kva.example", nullptr},
      {"*.example.com", nullptr},
      {"*.a.b.example.com", nullptr},
      {label(63) + ".com", nullptr},
      {label(64) + ".com", "label 1 is longer than 63"},
      {"www." + label(64) + ".com", "label 2 is longer than 63"},
      {name_of_length(253), nullptr},
      {name_of_length(254), "longer than 253"},
      {"*." + name_of_length(251), nullptr},
      {"*." + name_of_length(252), "longer than 253"},
      {"", "empty"},
      {"example.com.", "trailing dot"},
      {".example.com", "label 1 is empty"},
      {"a..example.com", "label 2 is empty"},
      {"Example.com", "upper-case"},
      {"www.EXAMPLE.com", "use 'www.example.com'"},
      {"exa_mple.com", "outside [a-z0-9-]"},
      {"exa mple.com", "position 3"},
      {"ex\xc3\xa9.com", "outside [a-z0-9-]"},
      {std::string("ex\0a.com", 8), "outside [a-z0-9-]"},
      {"-a.example.com", "label 1 starts with '-'"},
      {"a-.example.com", "label 1 ends with '-'"},
      {"a.example-.com", "label 2 ends with '-'"},
      {"*.com", "at least two labels"},
      {"*", "'*'"},
      {"*.", "trailing dot"},
      {"a.*.example.com", "only allowed as the whole first label"},
      {"*a.example.com", "only allowed as the whole first label"},
      {"**.example.com", "only allowed as the whole first label"},
      {"*.*.example.com", "only allowed as the whole first label"},
      {"*.Example.com", "label 2 has an upper-case"},
  };
  for (const HostCase& c : cases) {
    auto result = validate_route_hostname(c.host);
    if (c.why == nullptr) {
      EXPECT_OK(result) << c.host;
    } else {
      EXPECT_ERR_WITH(result, c.why) << c.host;
    }
  }
}

std::string normalize(std::string_view in) {
  char out[kMaxHostnameLength];
  size_t length = normalize_hostname(in, out);
  return std::string(out, length);
}

TEST(NormalizeHostname, LowerCasesAndDropsOneTrailingDot) {
  EXPECT_EQ(normalize("Example.COM"), "example.com");
  EXPECT_EQ(normalize("app.test."), "app.test");
  EXPECT_EQ(normalize("localhost"), "localhost");
  EXPECT_EQ(normalize(name_of_length(253) + "."), name_of_length(253));
}

TEST(NormalizeHostname, DoesNotAllocate) {
  char out[kMaxHostnameLength];
  std::string valid = "WWW." + label(63) + ".Example.com.";
  std::string invalid = "a..b";
  size_t valid_length = 0;
  size_t invalid_length = 1;
  long allocations = testing::allocations_during([&] {
    valid_length = normalize_hostname(valid, out);
    invalid_length = normalize_hostname(invalid, out);
  });
  EXPECT_EQ(valid_length, valid.size() - 1);
  EXPECT_EQ(invalid_length, 0u);
  EXPECT_EQ(allocations, 0);
}

TEST(NormalizeHostname, RejectsInvalidNames) {
  const std::string bad[] = {
      "",
      ".",
      "app.test..",
      "*.example.com",
      "a..b",
      "-a.com",
      "a-.com",
      "a_b.com",
      "a b.com",
      name_of_length(254),
      label(64) + ".com",
      std::string("a\0b.com", 7),
  };
  for (const std::string& in : bad) {
    EXPECT_EQ(normalize(in), "") << in;
  }
}

TEST(NormalizeHostname, AgreesWithValidationOnValidLowerCaseNames) {
  for (const std::string& host : {std::string("a.b"), label(63) + ".x", name_of_length(253)}) {
    EXPECT_OK(validate_route_hostname(host));
    EXPECT_EQ(normalize(host), host);
  }
}

}  // namespace
}  // namespace cloudlink
