// common/log.h: logfmt values are bare only when nothing in them could end or split the value,
// and quoted values escape what would (a hostile method, path or message cannot forge a key).
#include <gtest/gtest.h>

#include <string>

#include "common/log.h"

namespace cloudlink {
namespace {

std::string value(std::string_view text) {
  std::string out;
  append_logfmt_value(out, text);
  return out;
}

TEST(Logfmt, QuotesWhatWouldSplitTheValue) {
  struct Case {
    std::string_view in;
    const char* out;
  } cases[] = {
      {"plain", "plain"},
      {"/api/homes/{id}", "/api/homes/{id}"},
      {"", "\"\""},
      {"two words", "\"two words\""},
      {"a=b", "\"a=b\""},
      {"say \"hi\"", "\"say \\\"hi\\\"\""},
      {"back\\slash", "\"back\\\\slash\""},
      {"line\nbreak level=error", "\"line\\nbreak level=error\""},
      {std::string_view("nul\0esc\x1b", 8), "\"nul\\x00esc\\x1b\""},
      {"tab\there", "\"tab\\there\""},
  };
  for (const Case& c : cases) EXPECT_EQ(value(c.in), c.out) << c.in;
}

TEST(Logfmt, PrefixHasTimeLevelAndProgram) {
  log_program_name() = "cloudlink-test";
  std::string prefix = logfmt_prefix(LogLevel::kWarn);
  EXPECT_TRUE(prefix.starts_with("ts=")) << prefix;
  EXPECT_EQ(prefix.size(),
            std::string("ts=2026-12-02T17:30:00.123Z level=warn prog=cloudlink-test").size())
      << prefix;
  EXPECT_NE(prefix.find(" level=warn prog=cloudlink-test"), std::string::npos) << prefix;
  EXPECT_EQ(prefix[26], 'Z') << prefix;
}

}  // namespace
}  // namespace cloudlink
