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

// Escapes for a JSON string; the stored bytes are validated on write, but the table file is
// not trusted to be well-formed text.
std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte >= 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
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

std::string format_route_json(const RouteEntries& routes) {
  std::string out = "[";
  for (const auto& [host, route] : routes) {
    if (out.size() > 1) out += ",";
    out += "{\"host\":" + json_string(host) + ",\"targets\":[";
    bool first = true;
    for (const SocketAddress& target : route.targets()) {
      if (!first) out += ",";
      first = false;
      out += json_string(target.to_string());
    }
    out += "],\"http_target\":";
    out += route.http_target.empty() ? "null" : json_string(route.http_target.to_string());
    out += ",\"flags\":[";
    first = true;
    for (const FlagName& name : kFlagNames) {
      if (!route.has_flag(name.flag)) continue;
      if (!first) out += ",";
      first = false;
      out += json_string(name.name);
    }
    out += "],\"home\":" + json_string(route.home_id()) + "}";
  }
  return out + "]\n";
}

}  // namespace cloudlink::control
