// Strict reader for JSON request bodies. A BodySchema lists the fields an endpoint accepts
// (name, type, required or not, bounds); read_body() returns the values of exactly those
// fields or one BodyError whose message names the offending field. Nothing the schema does
// not describe gets through: not a non-object, a duplicate or unknown key, a wrong type, an
// out-of-range integer, an over-long string, invalid UTF-8, nor nesting deeper than needed.
// The same BodySchema documents the request body in the OpenAPI document.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cloudlink::control::api {

enum class FieldType { kString, kInt, kBool, kIntArray };

// "string", "integer", "boolean", "array of integers": the words error messages use.
std::string_view field_type_name(FieldType type);

struct FieldSpec {
  std::string name;
  FieldType type = FieldType::kString;
  bool required = true;
  // kString: longest accepted value in bytes (UTF-8). kIntArray: most elements accepted.
  size_t max_length = 256;
  // kString: shortest accepted value in bytes. kIntArray: fewest elements accepted.
  size_t min_length = 0;
  // kInt, and every element of kIntArray: the accepted range, inclusive.
  int64_t min = std::numeric_limits<int64_t>::min();
  int64_t max = std::numeric_limits<int64_t>::max();
  // One line for the OpenAPI document.
  std::string description;
};

// Builders for the common shapes, so a schema reads as a table.
FieldSpec string_field(std::string name, size_t max_length, bool required = true,
                       std::string description = {});
FieldSpec int_field(std::string name, int64_t min, int64_t max, bool required = true,
                    std::string description = {});
FieldSpec bool_field(std::string name, bool required = true, std::string description = {});
FieldSpec int_array_field(std::string name, int64_t min, int64_t max, size_t max_elements,
                          bool required = true, std::string description = {});

struct BodySchema {
  // Default cap on the raw body; the HTTP layer enforces its own cap (413) first.
  static constexpr size_t kDefaultMaxBytes = 64 * 1024;

  std::vector<FieldSpec> fields;
  size_t max_bytes = kDefaultMaxBytes;
};

using FieldValue = std::variant<std::string, int64_t, bool, std::vector<int64_t>>;

// The values of the fields present in a body that matched its schema. Accessors take the
// field name; asking for a field with the wrong type returns nothing, like an absent one.
class ParsedBody {
 public:
  bool has(std::string_view name) const;
  std::optional<std::string_view> string(std::string_view name) const;
  std::optional<int64_t> integer(std::string_view name) const;
  std::optional<bool> boolean(std::string_view name) const;
  const std::vector<int64_t>* int_array(std::string_view name) const;
  size_t size() const { return values_.size(); }

  void set(std::string name, FieldValue value) { values_[std::move(name)] = std::move(value); }

 private:
  std::map<std::string, FieldValue, std::less<>> values_;
};

enum class BodyErrorCode { kInvalidBody, kInvalidField, kUnknownField, kMissingField };

// "invalid_body", "invalid_field", "unknown_field", "missing_field": the API's error codes.
std::string_view body_error_code_name(BodyErrorCode code);

struct BodyError {
  BodyErrorCode code;
  std::string message;  // e.g. `field "tls_ports": expected an array of integers`
};

class BodyResult {
 public:
  BodyResult(ParsedBody body) : body_(std::move(body)) {}    // NOLINT: implicit by design
  BodyResult(BodyError error) : error_(std::move(error)) {}  // NOLINT

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const ParsedBody& body() const { return body_; }
  ParsedBody& body() { return body_; }
  const BodyError& error() const { return *error_; }

 private:
  ParsedBody body_;
  std::optional<BodyError> error_;
};

// Reads raw (the whole request body) against schema. Never throws.
BodyResult read_body(std::string_view raw, const BodySchema& schema);

}  // namespace cloudlink::control::api
