#include "control/http/router.h"

#include <algorithm>

namespace cloudlink::control::http {

namespace {

// Splits "/a/b/c" into {"a","b","c"}; "/" gives one empty segment.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

}  // namespace

std::string_view method_name(Method method) {
  switch (method) {
    case Method::kGet:
      return "GET";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kPatch:
      return "PATCH";
    case Method::kDelete:
      return "DELETE";
  }
  return "GET";
}

std::optional<Method> parse_method(std::string_view name) {
  if (name == "GET" || name == "HEAD") return Method::kGet;
  if (name == "POST") return Method::kPost;
  if (name == "PUT") return Method::kPut;
  if (name == "PATCH") return Method::kPatch;
  if (name == "DELETE") return Method::kDelete;
  return std::nullopt;
}

Result<PathPattern> PathPattern::parse(std::string_view pattern) {
  if (pattern.empty() || pattern[0] != '/') {
    return invalid("route pattern \"" + std::string(pattern) + "\" must start with '/'");
  }
  PathPattern out;
  out.text_ = pattern;
  auto parts = split_path(pattern);
  for (std::string_view part : parts) {
    if (part.empty() && parts.size() > 1) {
      return invalid("route pattern \"" + out.text_ + "\" has an empty segment");
    }
    Segment segment;
    if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
      segment.text = part.substr(1, part.size() - 2);
      segment.is_param = true;
      if (segment.text.empty() || segment.text.find_first_of("{}") != std::string::npos ||
          std::find(out.param_names_.begin(), out.param_names_.end(), segment.text) !=
              out.param_names_.end()) {
        return invalid("route pattern \"" + out.text_ + "\" has a bad parameter name");
      }
      out.param_names_.push_back(segment.text);
    } else if (part.find_first_of("{}") != std::string_view::npos) {
      return invalid("route pattern \"" + out.text_ + "\": braces must enclose a whole segment");
    } else {
      segment.text = part;
    }
    out.segments_.push_back(std::move(segment));
  }
  return out;
}

std::optional<PathParams> PathPattern::match(std::string_view path) const {
  if (path.empty() || path[0] != '/') return std::nullopt;
  auto parts = split_path(path);
  if (parts.size() != segments_.size()) return std::nullopt;
  PathParams params;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (segments_[i].is_param) {
      if (parts[i].empty()) return std::nullopt;
      params.emplace_back(segments_[i].text, std::string(parts[i]));
    } else if (parts[i] != segments_[i].text) {
      return std::nullopt;
    }
  }
  return params;
}

Result<size_t> Router::add(Method method, std::string_view pattern) {
  auto parsed = PathPattern::parse(pattern);
  if (!parsed) return parsed.error();
  for (const auto& [m, p] : routes_) {
    if (m == method && p.text() == parsed->text()) {
      return invalid("route " + std::string(method_name(method)) + " " + p.text() +
                     " registered twice");
    }
  }
  routes_.emplace_back(method, std::move(parsed).value());
  return routes_.size() - 1;
}

RouteMatch Router::match(Method method, std::string_view path) const {
  RouteMatch result;
  for (size_t i = 0; i < routes_.size(); ++i) {
    auto params = routes_[i].second.match(path);
    if (!params) continue;
    if (routes_[i].first == method) {
      result.kind = RouteMatch::Kind::kFound;
      result.index = i;
      result.params = std::move(*params);
      result.pattern = routes_[i].second.text();
      result.allowed_methods.clear();
      return result;
    }
    // A literal route registered for another method still makes this a 405, not a 404.
    if (result.kind == RouteMatch::Kind::kNoPath) result.pattern = routes_[i].second.text();
    result.kind = RouteMatch::Kind::kWrongMethod;
    result.allowed_methods.push_back(routes_[i].first);
  }
  return result;
}

RouteMatch Router::match(std::string_view method, std::string_view path) const {
  auto parsed = parse_method(method);
  if (parsed) return match(*parsed, path);
  // A method no route uses (OPTIONS, say): 405 when the path exists, else 404.
  RouteMatch result;
  for (size_t i = 0; i < routes_.size(); ++i) {
    if (!routes_[i].second.match(path)) continue;
    if (result.kind == RouteMatch::Kind::kNoPath) result.pattern = routes_[i].second.text();
    result.kind = RouteMatch::Kind::kWrongMethod;
    result.allowed_methods.push_back(routes_[i].first);
  }
  return result;
}

}  // namespace cloudlink::control::http
