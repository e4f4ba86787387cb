#include "control/http/openapi.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace cloudlink::control::http {

namespace {

nlohmann::json field_json_schema(const api::FieldSpec& field) {
  nlohmann::json out;
  switch (field.type) {
    case api::FieldType::kString:
      out = {{"type", "string"}, {"maxLength", field.max_length}};
      if (field.min_length > 0) out["minLength"] = field.min_length;
      break;
    case api::FieldType::kInt:
      out = {
          {"type", "integer"}, {"format", "int64"}, {"minimum", field.min}, {"maximum", field.max}};
      break;
    case api::FieldType::kBool:
      out = {{"type", "boolean"}};
      break;
    case api::FieldType::kIntArray:
      out = {{"type", "array"},
             {"maxItems", field.max_length},
             {"items",
              {{"type", "integer"},
               {"format", "int64"},
               {"minimum", field.min},
               {"maximum", field.max}}}};
      if (field.min_length > 0) out["minItems"] = field.min_length;
      break;
  }
  if (!field.description.empty()) out["description"] = field.description;
  return out;
}

const nlohmann::json& error_ref() {
  static const nlohmann::json ref = {
      {"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}};
  return ref;
}

// Status → description, the route's own first, then what the server adds.
std::map<int, std::string> response_docs(const Route& route) {
  std::map<int, std::string> docs;
  for (const auto& doc : route.responses) docs.emplace(doc.status, doc.description);
  if (docs.empty()) docs.emplace(200, "OK");
  if (route.body) {
    docs.emplace(400, "The body is not valid JSON or does not match the schema");
    docs.emplace(413, "The body is larger than the server accepts");
    docs.emplace(415, "Content-Type is not application/json");
  }
  if (route.requires_auth) docs.emplace(401, "No valid bearer token");
  if (!route.query.empty()) docs.emplace(400, "A query parameter is unknown or out of range");
  docs.emplace(500, "Internal error");
  return docs;
}

nlohmann::json operation(const Route& route) {
  nlohmann::json op = {{"operationId", operation_id(route)}, {"summary", route.summary}};
  if (!route.tag.empty()) op["tags"] = {route.tag};
  auto pattern = PathPattern::parse(route.pattern);
  nlohmann::json params = nlohmann::json::array();
  if (pattern) {
    for (const auto& name : pattern->param_names()) {
      params.push_back(
          {{"name", name}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}});
    }
  }
  for (const auto& query : route.query) {
    nlohmann::json param = {{"name", query.name},
                            {"in", "query"},
                            {"required", false},
                            {"schema",
                             {{"type", "integer"},
                              {"format", "int64"},
                              {"minimum", query.min},
                              {"maximum", query.max}}}};
    if (!query.description.empty()) param["description"] = query.description;
    params.push_back(param);
  }
  if (!params.empty()) op["parameters"] = params;
  if (route.body) {
    op["requestBody"] = {
        {"required", true},
        {"content", {{"application/json", {{"schema", body_json_schema(*route.body)}}}}}};
  }
  if (route.requires_auth) op["security"] = {{{"bearerAuth", nlohmann::json::array()}}};
  nlohmann::json responses = nlohmann::json::object();
  for (const auto& [status, description] : response_docs(route)) {
    nlohmann::json response = {{"description", description}};
    if (status >= 400) response["content"] = error_ref();
    responses[std::to_string(status)] = response;
  }
  op["responses"] = responses;
  return op;
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

nlohmann::json body_json_schema(const api::BodySchema& schema) {
  nlohmann::json properties = nlohmann::json::object();
  nlohmann::json required = nlohmann::json::array();
  for (const auto& field : schema.fields) {
    properties[field.name] = field_json_schema(field);
    if (field.required) required.push_back(field.name);
  }
  nlohmann::json out = {
      {"type", "object"}, {"properties", properties}, {"additionalProperties", false}};
  if (!required.empty()) out["required"] = required;
  return out;
}

std::string operation_id(const Route& route) {
  // GET /api/homes/{id}/key → get_api_homes_by_id_key
  std::string id = lower(method_name(route.method));
  std::string word;
  auto flush = [&] {
    if (!word.empty()) id += "_" + word;
    word.clear();
  };
  for (char c : route.pattern) {
    if (c == '/' || c == '.' || c == '-') {
      flush();
    } else if (c == '{') {
      flush();
      word = "by_";
    } else if (c != '}') {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  flush();
  return id;
}

nlohmann::json build_openapi(const std::vector<Route>& routes, const ApiInfo& info) {
  nlohmann::json paths = nlohmann::json::object();
  for (const auto& route : routes) {
    paths[route.pattern][lower(method_name(route.method))] = operation(route);
  }
  nlohmann::json error_schema = {
      {"type", "object"},
      {"required", {"error"}},
      {"properties",
       {{"error",
         {{"type", "object"},
          {"required", {"code", "message"}},
          {"properties", {{"code", {{"type", "string"}}}, {"message", {{"type", "string"}}}}}}}}}};
  return {{"openapi", "3.0.3"},
          {"info", {{"title", info.title}, {"version", info.version}}},
          {"paths", paths},
          {"components",
           {{"schemas", {{"Error", error_schema}}},
            {"securitySchemes", {{"bearerAuth", {{"type", "http"}, {"scheme", "bearer"}}}}}}}};
}

}  // namespace cloudlink::control::http
