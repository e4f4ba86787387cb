// Homes: create (key + tunnel port block), list, get, delete, rotate the key.
#include "control/api/api_routes.h"

namespace cloudlink::control::api {
namespace {

using http::Method;
using http::Request;
using http::Response;
using http::Route;

// An OpenSSH public key line: an RSA-16384 key is about 2.8 KB of base64.
constexpr size_t kMaxPublicKeyLine = 8192;

FieldSpec public_key_field() {
  return string_field("public_key", kMaxPublicKeyLine, true,
                      "OpenSSH public key line: ssh-ed25519, ecdsa-sha2-nistp256/384/521 or "
                      "ssh-rsa of at least 3072 bits");
}

Route create_home(const ApiContext& context) {
  Route route;
  route.method = Method::kPost;
  route.pattern = "/api/homes";
  route.summary = "Create a home: its SSH key and a block of tunnel ports on the VPS";
  route.tag = "homes";
  route.requires_auth = true;
  route.body = BodySchema{{string_field("name", 64, true, "1 to 64 bytes"), public_key_field(),
                           string_field("owner", 32, false, "admin only: the owning user")}};
  route.responses = {{201, "The home, with ssh_user, ssh_host, ssh_port and its ports"},
                     {400, "A field is invalid (the message names it)"},
                     {403, "Only an admin may name another owner"},
                     {409,
                      "The key is taken, no port block is left, or a quota (homes, "
                      "port_blocks) is reached: `quota: homes (3) reached for alice`"},
                     {507, "The state is full at its configured maximum (map-size-max)"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    const auto& body = request.body();
    auto home = context.store.homes_create(*caller, std::string(*body.string("name")),
                                           std::string(*body.string("public_key")),
                                           std::string(body.string("owner").value_or("")));
    if (!home) return error_response(home.error());
    return Response::ok(home_json(*home, context.ssh), 201);
  };
  return route;
}

Route list_homes(const ApiContext& context) {
  Route route;
  route.pattern = "/api/homes";
  route.summary = "The caller's homes (an admin's: every home)";
  route.tag = "homes";
  route.requires_auth = true;
  route.responses = {{200, "An array of homes"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto homes = context.store.homes_list(*caller);
    if (!homes) return error_response(homes.error());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& home : *homes) out.push_back(home_json(home, context.ssh));
    return Response::ok(out);
  };
  return route;
}

Route get_home(const ApiContext& context) {
  Route route;
  route.pattern = "/api/homes/{id}";
  route.summary = "One home";
  route.tag = "homes";
  route.requires_auth = true;
  route.responses = {{200, "The home"}, {404, "No such home (or not the caller's)"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto home = context.store.homes_get(*caller, std::string(request.param("id")));
    if (!home) return error_response(home.error());
    return Response::ok(home_json(*home, context.ssh));
  };
  return route;
}

Route delete_home(const ApiContext& context) {
  Route route;
  route.method = Method::kDelete;
  route.pattern = "/api/homes/{id}";
  route.summary =
      "Delete a home, its mappings and their routes; its open SSH sessions are cut and its ports "
      "go to another home only once nothing listens on them";
  route.tag = "homes";
  route.requires_auth = true;
  route.responses = {{204, "Deleted"}, {404, "No such home (or not the caller's)"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto deleted = context.store.homes_delete(*caller, std::string(request.param("id")));
    if (!deleted) return error_response(deleted.error());
    return Response::no_content();
  };
  return route;
}

Route rotate_key(const ApiContext& context) {
  Route route;
  route.method = Method::kPut;
  route.pattern = "/api/homes/{id}/key";
  route.summary = "Replace a home's SSH key (the old key's open sessions are cut)";
  route.tag = "homes";
  route.requires_auth = true;
  route.body = BodySchema{{public_key_field()}};
  route.responses = {{200, "The home with its new key"},
                     {400, "The key is invalid"},
                     {404, "No such home (or not the caller's)"},
                     {409, "The key belongs to another home"}};
  route.handler = [&context](const Request& request) {
    auto caller = caller_of(context, request);
    if (!caller) return error_response(caller.error());
    auto home = context.store.homes_rotate_key(*caller, std::string(request.param("id")),
                                               std::string(*request.body().string("public_key")));
    if (!home) return error_response(home.error());
    return Response::ok(home_json(*home, context.ssh));
  };
  return route;
}

}  // namespace

Result<void> add_home_routes(http::Server& server, const ApiContext& context) {
  for (auto make : {create_home, list_homes, get_home, delete_home, rotate_key}) {
    if (auto added = server.add(make(context)); !added) return added;
  }
  return ok();
}

}  // namespace cloudlink::control::api
