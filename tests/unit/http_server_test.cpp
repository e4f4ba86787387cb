// control/http without sockets: patterns, the request pipeline of Server::handle(), bearer
// parsing, the OpenAPI document built from routes, metrics text.
#include <gtest/gtest.h>

#include <stdexcept>

#include "control/http/server.h"
#include "control/serve.h"

namespace cloudlink::control::http {
namespace {

TEST(PathPattern, MatchesLiteralsAndParameters) {
  auto pattern = PathPattern::parse("/api/homes/{id}/mappings/{hostname}");
  ASSERT_TRUE(pattern.ok());
  EXPECT_EQ(pattern->param_names(), (std::vector<std::string>{"id", "hostname"}));
  auto params = pattern->match("/api/homes/7/mappings/a.example.com");
  ASSERT_TRUE(params.has_value());
  EXPECT_EQ(*params, (PathParams{{"id", "7"}, {"hostname", "a.example.com"}}));
  EXPECT_FALSE(pattern->match("/api/homes/7/mappings/").has_value());
  EXPECT_FALSE(pattern->match("/api/homes//mappings/x").has_value());
  EXPECT_FALSE(pattern->match("/api/homes/7/mappings/x/y").has_value());
  EXPECT_FALSE(pattern->match("/api/homes/7/other/x").has_value());
  EXPECT_FALSE(pattern->match("api/homes/7/mappings/x").has_value());
}

TEST(PathPattern, RootAndTrailingSlash) {
  auto root = PathPattern::parse("/");
  ASSERT_TRUE(root.ok());
  EXPECT_TRUE(root->match("/").has_value());
  EXPECT_FALSE(root->match("/x").has_value());
  auto health = PathPattern::parse("/api/health");
  ASSERT_TRUE(health.ok());
  EXPECT_FALSE(health->match("/api/health/").has_value());
}

TEST(PathPattern, RefusesBadPatterns) {
  for (const char* bad : {"", "api", "/a//b", "/a/{}", "/a/{x}{y}", "/a/x{y}", "/{a}/{a}", "/a/"}) {
    EXPECT_FALSE(PathPattern::parse(bad).ok()) << bad;
  }
}

TEST(Router, NotFoundVersusMethodNotAllowed) {
  Router router;
  ASSERT_TRUE(router.add(Method::kGet, "/api/homes/{id}").ok());
  ASSERT_TRUE(router.add(Method::kDelete, "/api/homes/{id}").ok());
  ASSERT_TRUE(router.add(Method::kPost, "/api/homes").ok());
  EXPECT_FALSE(router.add(Method::kGet, "/api/homes/{id}").ok()) << "registered twice";

  auto found = router.match("DELETE", "/api/homes/3");
  EXPECT_EQ(found.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(found.index, 1u);
  EXPECT_EQ(found.pattern, "/api/homes/{id}");
  EXPECT_EQ(router.match("HEAD", "/api/homes/3").index, 0u);

  auto wrong = router.match("PUT", "/api/homes/3");
  EXPECT_EQ(wrong.kind, RouteMatch::Kind::kWrongMethod);
  EXPECT_EQ(wrong.allowed_methods, (std::vector<Method>{Method::kGet, Method::kDelete}));
  EXPECT_EQ(router.match("OPTIONS", "/api/homes").kind, RouteMatch::Kind::kWrongMethod);
  EXPECT_EQ(router.match("GET", "/api/nothing").kind, RouteMatch::Kind::kNoPath);
}

TEST(Bearer, ParsesOnlyTheBearerScheme) {
  EXPECT_EQ(parse_bearer("Bearer abc.DEF-_~+/=="), "abc.DEF-_~+/==");
  EXPECT_EQ(parse_bearer("bearer  tok "), "tok");
  EXPECT_FALSE(parse_bearer("Basic dXNlcjpwYXNz").has_value());
  EXPECT_FALSE(parse_bearer("Bearer").has_value());
  EXPECT_FALSE(parse_bearer("Bearer ").has_value());
  EXPECT_FALSE(parse_bearer("Bearer a b").has_value());
  EXPECT_FALSE(parse_bearer("Bearer =abc").has_value());
  EXPECT_FALSE(parse_bearer("Bearer ab=c").has_value());
  EXPECT_FALSE(parse_bearer("").has_value());
}

class ServerPipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(add_standard_routes(server_).ok());
    Route create;
    create.method = Method::kPost;
    create.pattern = "/api/homes/{id}/mappings";
    create.summary = "create";
    create.requires_auth = true;
    create.body = api::BodySchema{
        {api::string_field("hostname", 253), api::int_array_field("tls_ports", 1, 65535, 8)}};
    create.responses = {{201, "created"}, {409, "taken"}};
    create.handler = [](const Request& request) {
      return Response::ok({{"id", request.param("id")},
                           {"hostname", *request.body().string("hostname")},
                           {"token", *request.bearer_token()},
                           {"ip", request.source_ip()}},
                          201);
    };
    ASSERT_TRUE(server_.add(std::move(create)).ok());
    Route fail;
    fail.pattern = "/api/fail";
    fail.handler = [](const Request&) -> Response { throw std::runtime_error("boom"); };
    ASSERT_TRUE(server_.add(std::move(fail)).ok());
    Route fail_other;
    fail_other.pattern = "/api/fail-int";
    fail_other.handler = [](const Request&) -> Response { throw 42; };
    ASSERT_TRUE(server_.add(std::move(fail_other)).ok());
  }

  RawRequest post(std::string body) {
    RawRequest raw;
    raw.method = "POST";
    raw.path = "/api/homes/9/mappings";
    raw.content_type = "application/json; charset=utf-8";
    raw.authorization = "Bearer t0ken";
    raw.has_body = true;
    raw.body = std::move(body);
    raw.remote_ip = "127.0.0.1";
    return raw;
  }

  static std::string code(const Response& response) {
    return response.json["error"]["code"].get<std::string>();
  }

  Server server_;
};

TEST_F(ServerPipeline, HandlerGetsParamsBodyTokenAndSource) {
  std::string route;
  Response response = server_.handle(post(R"({"hostname":"a.b","tls_ports":[443]})"), &route);
  EXPECT_EQ(response.status, 201);
  EXPECT_EQ(response.json["id"], "9");
  EXPECT_EQ(response.json["hostname"], "a.b");
  EXPECT_EQ(response.json["token"], "t0ken");
  EXPECT_EQ(response.json["ip"], "127.0.0.1");
  EXPECT_EQ(route, "/api/homes/{id}/mappings");
}

TEST_F(ServerPipeline, ErrorsInOrder) {
  std::string route;
  RawRequest raw = post("{}");
  raw.path = "/api/nowhere";
  Response response = server_.handle(raw, &route);
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(code(response), "not_found");
  EXPECT_EQ(route, "unmatched");

  raw = post("{}");
  raw.method = "PUT";
  response = server_.handle(raw, &route);
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(code(response), "method_not_allowed");
  ASSERT_EQ(response.headers.size(), 1u);
  EXPECT_EQ(response.headers[0], (std::pair<std::string, std::string>{"Allow", "POST"}));
  EXPECT_EQ(route, "/api/homes/{id}/mappings");

  raw = post("{}");
  raw.authorization = "Basic eDp5";
  EXPECT_EQ(server_.handle(raw).status, 401);

  raw = post("{}");
  raw.content_type = "text/plain";
  EXPECT_EQ(server_.handle(raw).status, 415);
  raw.content_type = "";
  EXPECT_EQ(server_.handle(raw).status, 415);
  raw.content_type = "Application/JSON";
  EXPECT_EQ(server_.handle(raw).status, 400) << "media type is case-insensitive";

  raw = post(std::string(ServerOptions::kDefaultMaxBodyBytes + 1, ' '));
  EXPECT_EQ(server_.handle(raw).status, 413);

  response = server_.handle(post(R"({"hostname":"a","tls_ports":[1],"x":1})"));
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(code(response), "unknown_field");
  EXPECT_EQ(response.json["error"]["message"], "field \"x\": not accepted here");

  response = server_.handle(post(R"({"hostname":"a","tls_ports":"1"})"));
  EXPECT_EQ(code(response), "invalid_field");
  EXPECT_EQ(response.json["error"]["message"],
            "field \"tls_ports\": expected an array of integers");
}

TEST_F(ServerPipeline, BodyOnARouteWithoutSchemaIsRefused) {
  RawRequest raw;
  raw.method = "GET";
  raw.path = "/api/health";
  raw.body = "{}";
  EXPECT_EQ(server_.handle(raw).status, 400);
  raw.body.clear();
  Response response = server_.handle(raw);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.json, (nlohmann::json{{"status", "ok"}}));
}

TEST_F(ServerPipeline, ExceptionsBecome500) {
  for (const char* path : {"/api/fail", "/api/fail-int"}) {
    RawRequest raw;
    raw.method = "GET";
    raw.path = path;
    Response response = server_.handle(raw);
    EXPECT_EQ(response.status, 500);
    EXPECT_EQ(code(response), "internal");
    EXPECT_EQ(response.serialized_content_type(), "application/json");
  }
}

TEST_F(ServerPipeline, OpenApiListsEveryRoute) {
  nlohmann::json doc = server_.openapi();
  EXPECT_EQ(doc["openapi"], "3.0.3");
  for (const auto& route : server_.routes()) {
    std::string method(method_name(route.method));
    for (auto& c : method) c = static_cast<char>(std::tolower(c));
    ASSERT_TRUE(doc["paths"].contains(route.pattern)) << route.pattern;
    EXPECT_TRUE(doc["paths"][route.pattern].contains(method)) << route.pattern;
  }
  const auto& op = doc["paths"]["/api/homes/{id}/mappings"]["post"];
  EXPECT_EQ(op["operationId"], "post_api_homes_by_id_mappings");
  EXPECT_EQ(op["parameters"][0]["name"], "id");
  const auto& schema = op["requestBody"]["content"]["application/json"]["schema"];
  EXPECT_EQ(schema["additionalProperties"], false);
  EXPECT_EQ(schema["required"], (nlohmann::json{"hostname", "tls_ports"}));
  EXPECT_EQ(schema["properties"]["tls_ports"]["items"]["maximum"], 65535);
  for (const char* status : {"201", "409", "400", "401", "413", "415", "500"}) {
    EXPECT_TRUE(op["responses"].contains(status)) << status;
  }
  EXPECT_EQ(op["security"][0].count("bearerAuth"), 1u);
}

TEST_F(ServerPipeline, MetricsCountByRouteAndStatus) {
  server_.metrics().observe("/api/health", "GET", 200, 0.001);
  server_.metrics().observe("unmatched", "GET", 404, -1);
  std::string text = server_.metrics().text();
  EXPECT_NE(text.find("cloudlink_control_http_requests_total{method=\"GET\",route=\"/api/"
                      "health\",status=\"200\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("cloudlink_control_http_request_duration_seconds_count{route=\"/api/"
                      "health\"} 1"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("duration_seconds_count{route=\"unmatched\"}"), std::string::npos);
}

TEST(ServeOptions, ParsesListen) {
  auto v4 = parse_listen("127.0.0.1:8000");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->first, "127.0.0.1");
  EXPECT_EQ(v4->second, 8000);
  auto v6 = parse_listen("[::1]:0");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->first, "::1");
  EXPECT_EQ(v6->second, 0);
  EXPECT_FALSE(parse_listen("localhost:80").ok());
  EXPECT_FALSE(parse_listen("127.0.0.1").ok());
}

}  // namespace
}  // namespace cloudlink::control::http
