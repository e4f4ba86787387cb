#include "control/route_format.h"

#include <algorithm>
#include <array>
#include <cstdio>

namespace cloudlink::control {
namespace {

struct FlagName {
  RouteFlag flag;
  const char* name;
};
constexpr std::array<FlagName, 3> kFlagNames = {{
    {kRouteProxyV2, "proxy-v2"},
    {kRouteProxyV1, "proxy-v1"},
    {kRouteRedirectHttps, "redirect-https"},
}};

std::string join_targets(const Route& route) {
  std::string out;
  for (const SocketAddress& target : route.targets()) {
    if (!out.empty()) out += ',';
    out += target.to_string();
  }
  return out.empty() ? "-" : out;
}

}  // namespace

std::string format_route_flags(uint32_t flags) {
  std::string out;
  for (const FlagName& name : kFlagNames) {
    if ((flags & name.flag) == 0) continue;
    if (!out.empty()) out += ',';
    out += name.name;
  }
  return out.empty() ? "-" : out;
}

std::string format_route_table(const RouteEntries& routes) {
  using Row = std::array<std::string, 5>;
  std::vector<Row> rows;
  rows.push_back({"HOST", "TARGETS", "HTTP-TARGET", "FLAGS", "HOME"});
  for (const auto& [host, route] : routes) {
    std::string http = route.http_target.empty() ? "-" : route.http_target.to_string();
    rows.push_back({host, join_targets(route), http, format_route_flags(route.flags),
                    std::string(route.home_id())});
  }
  std::array<size_t, 5> widths{};
  for (const Row& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const Row& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

nlohmann::json route_entries_json(const RouteEntries& routes) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [host, route] : routes) {
    nlohmann::json targets = nlohmann::json::array();
    for (const SocketAddress& target : route.targets()) targets.push_back(target.to_string());
    nlohmann::json flags = nlohmann::json::array();
    for (const FlagName& name : kFlagNames) {
      if (route.has_flag(name.flag)) flags.push_back(name.name);
    }
    out.push_back(
        {{"host", host},
         {"targets", targets},
         {"http_target", route.http_target.empty() ? nlohmann::json(nullptr)
                                                   : nlohmann::json(route.http_target.to_string())},
         {"flags", flags},
         {"home", std::string(route.home_id())}});
  }
  return out;
}

std::string format_route_json(const RouteEntries& routes) {
  // The table file is not trusted to hold UTF-8: invalid bytes are replaced, never thrown on.
  return route_entries_json(routes).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace) +
         "\n";
}

}  // namespace cloudlink::control
