// control/api/json_body: table-driven {description, body, expected code, message fragment}.
#include "control/api/json_body.h"

#include <gtest/gtest.h>

#include <string>

namespace cloudlink::control::api {
namespace {

BodySchema mapping_schema() {
  return BodySchema{{string_field("hostname", 16), int_array_field("tls_ports", 1, 65535, 4),
                     int_field("http_port", 1, 65535, false), bool_field("proxy_protocol", false)}};
}

TEST(JsonBody, AcceptsAllFields) {
  auto result = read_body(
      R"({"hostname":"a.example","tls_ports":[1,65535],"http_port":80,"proxy_protocol":true})",
      mapping_schema());
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result.body().string("hostname"), "a.example");
  ASSERT_NE(result.body().int_array("tls_ports"), nullptr);
  EXPECT_EQ(*result.body().int_array("tls_ports"), (std::vector<int64_t>{1, 65535}));
  EXPECT_EQ(result.body().integer("http_port"), 80);
  EXPECT_EQ(result.body().boolean("proxy_protocol"), true);
  EXPECT_EQ(result.body().size(), 4u);
}

TEST(JsonBody, OptionalFieldsMayBeAbsent) {
  auto result = read_body(R"( {"tls_ports":[],"hostname":""} )", mapping_schema());
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_FALSE(result.body().has("http_port"));
  EXPECT_FALSE(result.body().integer("http_port").has_value());
  // Asking with the wrong type gives nothing, like an absent field.
  EXPECT_FALSE(result.body().integer("hostname").has_value());
  EXPECT_EQ(result.body().int_array("hostname"), nullptr);
}

TEST(JsonBody, UnicodeEscapesAndMultibyteStrings) {
  auto result = read_body(R"({"hostname":"\u00e9\u00e9","tls_ports":[1]})", mapping_schema());
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result.body().string("hostname"), "\xc3\xa9\xc3\xa9");
}

struct BadCase {
  const char* description;
  std::string body;
  BodyErrorCode code;
  const char* message_part;
};

class JsonBodyRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(JsonBodyRejects, WithCodeAndMessage) {
  const BadCase& c = GetParam();
  auto result = read_body(c.body, mapping_schema());
  ASSERT_FALSE(result.ok()) << c.description;
  EXPECT_EQ(body_error_code_name(result.error().code), body_error_code_name(c.code))
      << c.description << ": " << result.error().message;
  EXPECT_NE(result.error().message.find(c.message_part), std::string::npos)
      << c.description << ": " << result.error().message;
}

const std::string kGood = R"({"hostname":"a","tls_ports":[1]})";

INSTANTIATE_TEST_SUITE_P(
    Table, JsonBodyRejects,
    ::testing::Values(
        BadCase{"empty", "", BodyErrorCode::kInvalidBody, "empty"},
        BadCase{"whitespace only", "  \n", BodyErrorCode::kInvalidBody, "body"},
        BadCase{"array", "[1,2]", BodyErrorCode::kInvalidBody, "JSON object"},
        BadCase{"string", R"("x")", BodyErrorCode::kInvalidBody, "JSON object"},
        BadCase{"null", "null", BodyErrorCode::kInvalidBody, "JSON object"},
        BadCase{"truncated", kGood.substr(0, kGood.size() - 1), BodyErrorCode::kInvalidBody,
                "not valid JSON"},
        BadCase{"truncated in string", R"({"hostname":"a)", BodyErrorCode::kInvalidBody,
                "not valid JSON"},
        BadCase{"trailing garbage", kGood + "x", BodyErrorCode::kInvalidBody, "not valid JSON"},
        BadCase{"two documents", kGood + kGood, BodyErrorCode::kInvalidBody, "not valid JSON"},
        BadCase{"trailing comma", R"({"hostname":"a","tls_ports":[1],})",
                BodyErrorCode::kInvalidBody, "not valid JSON"},
        BadCase{"single quotes", R"({'hostname':'a'})", BodyErrorCode::kInvalidBody,
                "not valid JSON"},
        BadCase{"invalid utf-8", "{\"hostname\":\"\xff\",\"tls_ports\":[1]}",
                BodyErrorCode::kInvalidBody, "UTF-8"},
        BadCase{"overlong utf-8", "{\"hostname\":\"\xc0\xaf\",\"tls_ports\":[1]}",
                BodyErrorCode::kInvalidBody, "UTF-8"},
        BadCase{"deep nesting", std::string(100, '[') + std::string(100, ']'),
                BodyErrorCode::kInvalidBody, "nested too deeply"},
        BadCase{"deep nesting inside a field", R"({"hostname":"a","tls_ports":[[[[1]]]]})",
                BodyErrorCode::kInvalidBody, "nested too deeply"},
        BadCase{"huge number", R"({"hostname":"a","tls_ports":[1e999]})",
                BodyErrorCode::kInvalidBody, "number"},
        BadCase{"oversized", "{\"hostname\":\"" + std::string(70000, 'a') + "\"}",
                BodyErrorCode::kInvalidBody, "larger than 65536"},
        BadCase{"duplicate key", R"({"hostname":"a","tls_ports":[1],"hostname":"b"})",
                BodyErrorCode::kInvalidField, "field \"hostname\": appears more than once"},
        BadCase{"unknown field", R"({"hostname":"a","tls_ports":[1],"admin":true})",
                BodyErrorCode::kUnknownField, "field \"admin\""},
        BadCase{"case matters", R"({"Hostname":"a","tls_ports":[1]})", BodyErrorCode::kUnknownField,
                "field \"Hostname\""},
        BadCase{"missing field", R"({"hostname":"a"})", BodyErrorCode::kMissingField,
                "field \"tls_ports\": is required"},
        BadCase{"string as int array", R"({"hostname":"a","tls_ports":"443"})",
                BodyErrorCode::kInvalidField, "field \"tls_ports\": expected an array of integers"},
        BadCase{"string in int array", R"({"hostname":"a","tls_ports":[1,"2"]})",
                BodyErrorCode::kInvalidField, "field \"tls_ports\": expected an array of integers"},
        BadCase{"float in int array", R"({"hostname":"a","tls_ports":[1.5]})",
                BodyErrorCode::kInvalidField, "expected an array of integers"},
        BadCase{"int array element out of range", R"({"hostname":"a","tls_ports":[0]})",
                BodyErrorCode::kInvalidField, "between 1 and 65535"},
        BadCase{"int array too long", R"({"hostname":"a","tls_ports":[1,2,3,4,5]})",
                BodyErrorCode::kInvalidField, "more than 4 elements"},
        BadCase{"number as string", R"({"hostname":5,"tls_ports":[1]})",
                BodyErrorCode::kInvalidField, "field \"hostname\": expected a string"},
        BadCase{"null for optional", R"({"hostname":"a","tls_ports":[1],"http_port":null})",
                BodyErrorCode::kInvalidField, "field \"http_port\": expected an integer"},
        BadCase{"float for int", R"({"hostname":"a","tls_ports":[1],"http_port":80.0})",
                BodyErrorCode::kInvalidField, "expected an integer"},
        BadCase{"string for int", R"({"hostname":"a","tls_ports":[1],"http_port":"80"})",
                BodyErrorCode::kInvalidField, "expected an integer"},
        BadCase{"int out of range", R"({"hostname":"a","tls_ports":[1],"http_port":65536})",
                BodyErrorCode::kInvalidField, "field \"http_port\": must be between 1 and 65535"},
        BadCase{"negative int", R"({"hostname":"a","tls_ports":[1],"http_port":-1})",
                BodyErrorCode::kInvalidField, "between 1 and 65535"},
        BadCase{"uint64", R"({"hostname":"a","tls_ports":[1],"http_port":18446744073709551615})",
                BodyErrorCode::kInvalidField, "between 1 and 65535"},
        BadCase{"int for bool", R"({"hostname":"a","tls_ports":[1],"proxy_protocol":1})",
                BodyErrorCode::kInvalidField, "expected a boolean"},
        BadCase{"string over cap", R"({"hostname":"abcdefghijklmnopq","tls_ports":[1]})",
                BodyErrorCode::kInvalidField, "field \"hostname\": longer than 16 bytes"}));

TEST(JsonBody, LongUnknownNameIsCutAtACharacterBoundary) {
  std::string name;
  for (int i = 0; i < 40; ++i) name += "\xc3\xa9";  // 80 bytes of two-byte characters
  auto result = read_body("{\"" + name + "\":1}", mapping_schema());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, BodyErrorCode::kUnknownField);
  const std::string& message = result.error().message;
  EXPECT_NE(message.find("...\""), std::string::npos) << message;
  EXPECT_EQ(message.find("\xc3\""), std::string::npos) << "cut inside a character";
}

TEST(JsonBody, BodyCapIsTheSchemas) {
  BodySchema schema = mapping_schema();
  schema.max_bytes = 10;
  auto result = read_body(R"({"hostname":"a","tls_ports":[1]})", schema);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, BodyErrorCode::kInvalidBody);
}

TEST(JsonBody, EveryPrefixOfAValidBodyIsRefusedWithoutCrashing) {
  const std::string body =
      R"({"hostname":"a.example","tls_ports":[1,2],"http_port":80,"proxy_protocol":false})";
  for (size_t n = 0; n < body.size(); ++n) {
    auto result = read_body(body.substr(0, n), mapping_schema());
    EXPECT_FALSE(result.ok()) << n;
  }
  EXPECT_TRUE(read_body(body, mapping_schema()).ok());
}

}  // namespace
}  // namespace cloudlink::control::api
