// Route table of the control API: (method, path pattern) → route. A pattern is a path whose
// segments are literals or "{name}" parameters ("/api/homes/{id}/mappings/{hostname}"); a
// parameter matches one whole, non-empty segment. The pattern text doubles as the OpenAPI
// path and as the `route` label of the HTTP metrics, so it is never the raw request path.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace cloudlink::control::http {

enum class Method { kGet, kPost, kPut, kPatch, kDelete };

// "GET", "POST", ...; parse_method also maps HEAD to kGet (HEAD is GET without a body).
std::string_view method_name(Method method);
std::optional<Method> parse_method(std::string_view name);

using PathParams = std::vector<std::pair<std::string, std::string>>;

class PathPattern {
 public:
  // Refuses a pattern that does not start with '/', has an empty segment, an empty or
  // repeated parameter name, or braces anywhere but around a whole segment.
  static Result<PathPattern> parse(std::string_view pattern);

  const std::string& text() const { return text_; }
  const std::vector<std::string>& param_names() const { return param_names_; }
  // On a match, the parameters in pattern order.
  std::optional<PathParams> match(std::string_view path) const;

 private:
  struct Segment {
    std::string text;  // literal, or the parameter name
    bool is_param = false;
  };
  std::string text_;
  std::vector<Segment> segments_;
  std::vector<std::string> param_names_;
};

// What a lookup found: a route index with its parameters, or why not (404 vs 405).
struct RouteMatch {
  enum class Kind { kFound, kNoPath, kWrongMethod };
  Kind kind = Kind::kNoPath;
  size_t index = 0;                     // kFound: the route's index in registration order
  PathParams params;                    // kFound
  std::string pattern;                  // kFound, kWrongMethod: the matched pattern
  std::vector<Method> allowed_methods;  // kWrongMethod: for the Allow header
};

class Router {
 public:
  // Refuses a bad pattern and a (method, pattern) pair registered twice.
  Result<size_t> add(Method method, std::string_view pattern);
  RouteMatch match(Method method, std::string_view path) const;
  RouteMatch match(std::string_view method, std::string_view path) const;

  size_t size() const { return routes_.size(); }
  Method method(size_t index) const { return routes_[index].first; }
  const PathPattern& pattern(size_t index) const { return routes_[index].second; }

 private:
  std::vector<std::pair<Method, PathPattern>> routes_;
};

}  // namespace cloudlink::control::http
