// Strict JSON body reader: must never crash on any bytes; a body it accepts holds only the
// schema's fields within their bounds, and, written out again as JSON, reads back the same.
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "control/api/json_body.h"

namespace {

using namespace cloudlink::control::api;

const BodySchema& schema() {
  static const BodySchema s{
      {string_field("hostname", 253), int_array_field("tls_ports", 1, 65535, 8),
       int_field("http_port", 1, 65535, false), bool_field("proxy_protocol", false),
       int_field("delta", -5, 5, false)},
      4096};
  return s;
}

void check(bool condition) {
  if (!condition) std::abort();
}

nlohmann::json to_json(const ParsedBody& body) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& field : schema().fields) {
    if (auto s = body.string(field.name)) out[field.name] = std::string(*s);
    if (auto i = body.integer(field.name)) out[field.name] = *i;
    if (auto b = body.boolean(field.name)) out[field.name] = *b;
    if (auto a = body.int_array(field.name)) out[field.name] = *a;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  BodyResult result = read_body(raw, schema());
  if (!result) {
    check(!result.error().message.empty());
    return 0;
  }
  const ParsedBody& body = result.body();
  size_t known = 0;
  for (const auto& field : schema().fields) {
    if (!body.has(field.name)) {
      check(!field.required);
      continue;
    }
    ++known;
    if (auto s = body.string(field.name)) check(s->size() <= field.max_length);
    if (auto i = body.integer(field.name)) check(*i >= field.min && *i <= field.max);
    if (auto a = body.int_array(field.name)) {
      check(a->size() <= field.max_length);
      for (int64_t v : *a) check(v >= field.min && v <= field.max);
    }
  }
  check(known == body.size());
  // Round trip: what was accepted, serialised again, is accepted with the same values.
  std::string again = to_json(body).dump();
  BodyResult second = read_body(again, schema());
  check(second.ok());
  check(to_json(second.body()) == to_json(body));
  return 0;
}
