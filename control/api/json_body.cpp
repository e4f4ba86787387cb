#include "control/api/json_body.h"

#include <simdjson.h>

#include <set>

namespace cloudlink::control::api {

namespace {

// An accepted body is one object whose values are scalars or arrays of scalars: depth 2.
// Two more levels let a field holding an object, or an array holding arrays or objects, be
// reported by name; anything deeper is refused by the parser before any field is looked at.
constexpr size_t kMaxDepth = 4;
// Client-supplied names are quoted in messages; a long one is cut (at a UTF-8 boundary).
constexpr size_t kMaxQuotedName = 64;

std::string quoted_name(std::string_view name) {
  if (name.size() > kMaxQuotedName) {
    size_t cut = kMaxQuotedName;
    while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
    return "\"" + std::string(name.substr(0, cut)) + "...\"";
  }
  return "\"" + std::string(name) + "\"";
}

BodyError field_error(BodyErrorCode code, std::string_view name, std::string_view what) {
  return {code, "field " + quoted_name(name) + ": " + std::string(what)};
}

std::string range_text(const FieldSpec& spec) {
  return "between " + std::to_string(spec.min) + " and " + std::to_string(spec.max);
}

std::optional<int64_t> as_int(simdjson::dom::element value) {
  if (value.type() != simdjson::dom::element_type::INT64) return std::nullopt;
  return int64_t(value);
}

std::optional<BodyError> read_int(const FieldSpec& spec, simdjson::dom::element value,
                                  ParsedBody& out) {
  auto number = as_int(value);
  if (!number) {
    // A UINT64 is an integer above INT64_MAX: the right type, out of every range we accept.
    if (value.type() == simdjson::dom::element_type::UINT64) {
      return field_error(BodyErrorCode::kInvalidField, spec.name, "must be " + range_text(spec));
    }
    return field_error(BodyErrorCode::kInvalidField, spec.name, "expected an integer");
  }
  if (*number < spec.min || *number > spec.max) {
    return field_error(BodyErrorCode::kInvalidField, spec.name, "must be " + range_text(spec));
  }
  out.set(spec.name, *number);
  return std::nullopt;
}

std::optional<BodyError> read_string(const FieldSpec& spec, simdjson::dom::element value,
                                     ParsedBody& out) {
  if (value.type() != simdjson::dom::element_type::STRING) {
    return field_error(BodyErrorCode::kInvalidField, spec.name, "expected a string");
  }
  std::string_view text(value);
  if (text.size() > spec.max_length) {
    return field_error(BodyErrorCode::kInvalidField, spec.name,
                       "longer than " + std::to_string(spec.max_length) + " bytes");
  }
  if (text.size() < spec.min_length) {
    return field_error(BodyErrorCode::kInvalidField, spec.name,
                       "shorter than " + std::to_string(spec.min_length) + " bytes");
  }
  out.set(spec.name, std::string(text));
  return std::nullopt;
}

std::optional<BodyError> read_int_array(const FieldSpec& spec, simdjson::dom::element value,
                                        ParsedBody& out) {
  const auto expected = [&] {
    return field_error(BodyErrorCode::kInvalidField, spec.name, "expected an array of integers");
  };
  if (value.type() != simdjson::dom::element_type::ARRAY) return expected();
  simdjson::dom::array array(value);
  std::vector<int64_t> numbers;
  for (simdjson::dom::element item : array) {
    auto number = as_int(item);
    if (!number && item.type() != simdjson::dom::element_type::UINT64) return expected();
    if (!number || *number < spec.min || *number > spec.max) {
      return field_error(BodyErrorCode::kInvalidField, spec.name,
                         "every element must be " + range_text(spec));
    }
    if (numbers.size() == spec.max_length) {
      return field_error(BodyErrorCode::kInvalidField, spec.name,
                         "more than " + std::to_string(spec.max_length) + " elements");
    }
    numbers.push_back(*number);
  }
  if (numbers.size() < spec.min_length) {
    return field_error(BodyErrorCode::kInvalidField, spec.name,
                       "fewer than " + std::to_string(spec.min_length) + " elements");
  }
  out.set(spec.name, std::move(numbers));
  return std::nullopt;
}

std::optional<BodyError> read_field(const FieldSpec& spec, simdjson::dom::element value,
                                    ParsedBody& out) {
  switch (spec.type) {
    case FieldType::kString:
      return read_string(spec, value, out);
    case FieldType::kInt:
      return read_int(spec, value, out);
    case FieldType::kBool:
      if (value.type() != simdjson::dom::element_type::BOOL) {
        return field_error(BodyErrorCode::kInvalidField, spec.name, "expected a boolean");
      }
      out.set(spec.name, bool(value));
      return std::nullopt;
    case FieldType::kIntArray:
      return read_int_array(spec, value, out);
  }
  return field_error(BodyErrorCode::kInvalidField, spec.name, "unsupported type");
}

const FieldSpec* find_spec(const BodySchema& schema, std::string_view name) {
  for (const auto& spec : schema.fields) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

BodyError parse_error(simdjson::error_code error) {
  switch (error) {
    case simdjson::UTF8_ERROR:
      return {BodyErrorCode::kInvalidBody, "body is not valid UTF-8"};
    case simdjson::DEPTH_ERROR:
      return {BodyErrorCode::kInvalidBody, "body is nested too deeply"};
    case simdjson::EMPTY:
      return {BodyErrorCode::kInvalidBody, "body is empty; expected a JSON object"};
    case simdjson::NUMBER_ERROR:
      return {BodyErrorCode::kInvalidBody, "body has a number out of range"};
    default:
      return {BodyErrorCode::kInvalidBody,
              std::string("body is not valid JSON: ") + simdjson::error_message(error)};
  }
}

}  // namespace

std::string_view field_type_name(FieldType type) {
  switch (type) {
    case FieldType::kString:
      return "string";
    case FieldType::kInt:
      return "integer";
    case FieldType::kBool:
      return "boolean";
    case FieldType::kIntArray:
      return "array of integers";
  }
  return "unknown";
}

FieldSpec string_field(std::string name, size_t max_length, bool required,
                       std::string description) {
  FieldSpec spec;
  spec.name = std::move(name);
  spec.type = FieldType::kString;
  spec.max_length = max_length;
  spec.required = required;
  spec.description = std::move(description);
  return spec;
}

FieldSpec int_field(std::string name, int64_t min, int64_t max, bool required,
                    std::string description) {
  FieldSpec spec;
  spec.name = std::move(name);
  spec.type = FieldType::kInt;
  spec.min = min;
  spec.max = max;
  spec.required = required;
  spec.description = std::move(description);
  return spec;
}

FieldSpec bool_field(std::string name, bool required, std::string description) {
  FieldSpec spec;
  spec.name = std::move(name);
  spec.type = FieldType::kBool;
  spec.required = required;
  spec.description = std::move(description);
  return spec;
}

FieldSpec int_array_field(std::string name, int64_t min, int64_t max, size_t max_elements,
                          bool required, std::string description) {
  FieldSpec spec = int_field(std::move(name), min, max, required, std::move(description));
  spec.type = FieldType::kIntArray;
  spec.max_length = max_elements;
  return spec;
}

bool ParsedBody::has(std::string_view name) const { return values_.find(name) != values_.end(); }

std::optional<std::string_view> ParsedBody::string(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end() || !std::holds_alternative<std::string>(it->second)) return std::nullopt;
  return std::string_view(std::get<std::string>(it->second));
}

std::optional<int64_t> ParsedBody::integer(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end() || !std::holds_alternative<int64_t>(it->second)) return std::nullopt;
  return std::get<int64_t>(it->second);
}

std::optional<bool> ParsedBody::boolean(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end() || !std::holds_alternative<bool>(it->second)) return std::nullopt;
  return std::get<bool>(it->second);
}

const std::vector<int64_t>* ParsedBody::int_array(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return nullptr;
  return std::get_if<std::vector<int64_t>>(&it->second);
}

std::string_view body_error_code_name(BodyErrorCode code) {
  switch (code) {
    case BodyErrorCode::kInvalidBody:
      return "invalid_body";
    case BodyErrorCode::kInvalidField:
      return "invalid_field";
    case BodyErrorCode::kUnknownField:
      return "unknown_field";
    case BodyErrorCode::kMissingField:
      return "missing_field";
  }
  return "invalid_body";
}

BodyResult read_body(std::string_view raw, const BodySchema& schema) {
  if (raw.size() > schema.max_bytes) {
    return BodyError{BodyErrorCode::kInvalidBody,
                     "body is larger than " + std::to_string(schema.max_bytes) + " bytes"};
  }
  simdjson::dom::parser parser;
  if (auto error = parser.allocate(raw.empty() ? 1 : raw.size(), kMaxDepth); error) {
    return BodyError{BodyErrorCode::kInvalidBody, "body could not be parsed (out of memory)"};
  }
  simdjson::dom::element root;
  // realloc_if_needed copies the body into a padded buffer: simdjson reads past the end.
  if (auto error = parser.parse(raw.data(), raw.size(), true).get(root); error) {
    return parse_error(error);
  }
  if (root.type() != simdjson::dom::element_type::OBJECT) {
    return BodyError{BodyErrorCode::kInvalidBody, "body must be a JSON object"};
  }
  ParsedBody body;
  std::set<std::string_view> seen;
  for (auto [key, value] : simdjson::dom::object(root)) {
    if (!seen.insert(key).second) {
      return field_error(BodyErrorCode::kInvalidField, key, "appears more than once");
    }
    const FieldSpec* spec = find_spec(schema, key);
    if (spec == nullptr) return field_error(BodyErrorCode::kUnknownField, key, "not accepted here");
    if (auto error = read_field(*spec, value, body)) return *error;
  }
  for (const auto& spec : schema.fields) {
    if (spec.required && !body.has(spec.name)) {
      return field_error(BodyErrorCode::kMissingField, spec.name, "is required");
    }
  }
  return body;
}

}  // namespace cloudlink::control::api
