// Hostname mappings of a home: each one is written with its route in one logical operation
// (the store projects it into the routes environment before answering).
#include "common/hostname.h"
#include "common/route_record.h"
#include "control/api/api_routes.h"

namespace cloudlink::control::api {
namespace {

using http::Method;
using http::Request;
using http::Response;
using http::Route;

constexpr int64_t kMaxPort = 65535;

FieldSpec tls_ports_field(bool required) {
  auto field = int_array_field("tls_ports", 1, kMaxPort, kMaxRouteTargets, required,
                               "the home's tunnel ports TLS connections go to, balanced");
  field.min_length = 1;
  return field;
}

FieldSpec proxy_protocol_field() {
  return string_field("proxy_protocol", 8, false,
                      "\"v2\": send a PROXY v2 header first; \"none\" (default)");
}

// The optional fields of a mapping body, as a patch (create uses the same reading).
Result<state::MappingPatch> read_patch(const api::ParsedBody& body, bool zero_clears_http) {
  state::MappingPatch patch;
  if (const auto* ports = body.int_array("tls_ports")) {
    patch.tls_ports.emplace(ports->begin(), ports->end());
  }
  if (auto port = body.integer("http_port")) {
    if (*port == 0 && zero_clears_http) {
      patch.http_port = std::optional<uint16_t>{};
    } else if (*port == 0) {
      return state::invalid_field("http_port", "must be a port from 1 to 65535");
    } else {
      patch.http_port = std::optional<uint16_t>{static_cast<uint16_t>(*port)};
    }
  }
  if (auto text = body.string("proxy_protocol")) {
    auto parsed = state::parse_proxy_protocol(*text);
    if (!parsed) return parsed.error();
    patch.proxy_protocol = *parsed;
  }
  return patch;
}

Route create_mapping(const ApiContext& context) {
  Route route;
  route.method = Method::kPost;
  route.pattern = "/api/homes/{id}/mappings";
  route.summary = "Map a hostname to the home's ports; its route is live when this answers";
  route.tag = "mappings";
  route.requires_auth = true;
  route.body = BodySchema{
      {string_field("hostname", kMaxHostnameLength, true, "e.g. app.example.com or *.example.com"),
       tls_ports_field(true),
       int_field("http_port", 1, kMaxPort, false, "the home's port plain HTTP on :80 goes to"),
       proxy_protocol_field()}};
  route.responses = {
      {201, "The mapping"},
      {400, "A field is invalid (the message names it): a public suffix, an IP literal, ..."},
      {403, "A port is not one of the home's, or the hostname is outside allowed-domains"},
      {404, "No such home (or not the caller's)"},
      {409, "The hostname is mapped already (by anyone), or the mappings quota is reached"},
      {507, "The state is full at its configured maximum (map-size-max)"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto patch = read_patch(request.body(), false);
    if (!patch) return error_response(patch.error());
    state::Mapping mapping;
    mapping.hostname = std::string(*request.body().string("hostname"));
    mapping.tls_ports = std::move(*patch->tls_ports);
    if (patch->http_port) mapping.http_port = *patch->http_port;
    if (patch->proxy_protocol) mapping.proxy_protocol = *patch->proxy_protocol;
    auto created =
        context.store.mappings_create(*caller, std::string(request.param("id")), mapping);
    if (!created) return error_response(created.error());
    return Response::ok(mapping_json(*created), 201);
  };
  return route;
}

Route list_mappings(const ApiContext& context) {
  Route route;
  route.pattern = "/api/homes/{id}/mappings";
  route.summary = "The home's mappings";
  route.tag = "mappings";
  route.requires_auth = true;
  route.responses = {{200, "An array of mappings"}, {404, "No such home (or not the caller's)"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto mappings = context.store.mappings_list(*caller, std::string(request.param("id")));
    if (!mappings) return error_response(mappings.error());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& mapping : *mappings) out.push_back(mapping_json(mapping));
    return Response::ok(out);
  };
  return route;
}

Route get_mapping(const ApiContext& context) {
  Route route;
  route.pattern = "/api/homes/{id}/mappings/{hostname}";
  route.summary = "One mapping";
  route.tag = "mappings";
  route.requires_auth = true;
  route.responses = {{200, "The mapping"}, {404, "No such home or mapping"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto mapping = context.store.mappings_get(*caller, std::string(request.param("id")),
                                              std::string(request.param("hostname")));
    if (!mapping) return error_response(mapping.error());
    return Response::ok(mapping_json(*mapping));
  };
  return route;
}

Route update_mapping(const ApiContext& context) {
  Route route;
  route.method = Method::kPatch;
  route.pattern = "/api/homes/{id}/mappings/{hostname}";
  route.summary = "Change a mapping's ports or PROXY protocol; only the fields sent change";
  route.tag = "mappings";
  route.requires_auth = true;
  route.body = BodySchema{
      {tls_ports_field(false),
       int_field("http_port", 0, kMaxPort, false, "the home's port for plain HTTP; 0 removes it"),
       proxy_protocol_field()}};
  route.responses = {{200, "The mapping as it is now"},
                     {400, "A field is invalid (the message names it)"},
                     {403, "A port is not one of the home's"},
                     {404, "No such home or mapping"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto patch = read_patch(request.body(), true);
    if (!patch) return error_response(patch.error());
    auto updated = context.store.mappings_update(*caller, std::string(request.param("id")),
                                                 std::string(request.param("hostname")), *patch);
    if (!updated) return error_response(updated.error());
    return Response::ok(mapping_json(*updated));
  };
  return route;
}

Route delete_mapping(const ApiContext& context) {
  Route route;
  route.method = Method::kDelete;
  route.pattern = "/api/homes/{id}/mappings/{hostname}";
  route.summary = "Remove a mapping and its route";
  route.tag = "mappings";
  route.requires_auth = true;
  route.responses = {{204, "Deleted"}, {404, "No such home or mapping"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto deleted = context.store.mappings_delete(*caller, std::string(request.param("id")),
                                                 std::string(request.param("hostname")));
    if (!deleted) return error_response(deleted.error());
    return Response::no_content();
  };
  return route;
}

}  // namespace

Result<void> add_mapping_routes(http::Server& server, const ApiContext& context) {
  for (auto make : {create_mapping, list_mappings, get_mapping, update_mapping, delete_mapping}) {
    if (auto added = server.add(make(context)); !added) return added;
  }
  return ok();
}

}  // namespace cloudlink::control::api
