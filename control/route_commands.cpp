#include "control/route_commands.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <vector>

#include "common/hostname.h"
#include "common/route_table.h"
#include "control/route_format.h"
#include "control/state/data_folder.h"

namespace cloudlink::control {
namespace {

// Validation errors are EINVAL with a sentence of their own; "Invalid argument" adds nothing.
CommandOutcome usage_error(const Error& error) { return {kExitUsage, error.context()}; }
CommandOutcome runtime_error(const Error& error) { return {kExitRuntime, error.message()}; }

// Splits "a,b,c"; an empty element ("a,,b", a trailing comma) is reported, not skipped.
Result<std::vector<SocketAddress>> parse_targets(const std::string& text) {
  std::vector<SocketAddress> targets;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string_view item(text.data() + start,
                          (comma == std::string::npos ? text.size() : comma) - start);
    if (item.empty()) return invalid("empty target in '" + text + "'");
    auto address = SocketAddress::parse(item);
    if (!address) return address.error();
    if (std::find(targets.begin(), targets.end(), address.value()) != targets.end()) {
      return invalid("target " + address->to_string() + " is listed twice");
    }
    targets.push_back(address.value());
    if (targets.size() > kMaxRouteTargets) {
      return invalid("more than " + std::to_string(kMaxRouteTargets) + " targets");
    }
    if (comma == std::string::npos) return targets;
    start = comma + 1;
  }
}

Result<uint32_t> parse_proxy_protocol(const std::string& text) {
  if (text.empty()) return 0u;
  if (text == "v2") return static_cast<uint32_t>(kRouteProxyV2);
  return invalid("--proxy-protocol must be v2, not '" + text + "'");
}

// Everything `routes add` needs, checked before the table is opened.
Result<Route> route_from_options(const RouteAddOptions& options) {
  if (auto valid = validate_route_hostname(options.host); !valid) return valid.error();
  auto targets = parse_targets(options.targets);
  if (!targets) return targets.error();
  auto flags = parse_proxy_protocol(options.proxy_protocol);
  if (!flags) return flags.error();
  SocketAddress http_target;
  if (!options.http_target.empty()) {
    auto parsed = SocketAddress::parse(options.http_target);
    if (!parsed) return invalid("--http-target: " + parsed.error().context());
    http_target = parsed.value();
  }
  auto route = make_route(options.home, flags.value(), targets.value(), http_target);
  if (!route) return invalid(route.error().context());
  return route;
}

// Only init makes a data folder; a route command on any other folder is a configuration error.
std::optional<CommandOutcome> refuse_uninitialised(const std::string& data_dir) {
  auto initialised = state::require_initialised(data_dir);
  if (initialised) return std::nullopt;
  return CommandOutcome{kExitUsage, initialised.error().context()};
}

bool table_exists(const std::string& data_dir) {
  std::error_code ec;
  return std::filesystem::exists(data_dir + "/routes/data.mdb", ec);
}

std::string describe(const std::string& host, const Route& route) {
  std::string text = host + " ->";
  for (const SocketAddress& target : route.targets()) text += " " + target.to_string();
  if (!route.http_target.empty()) text += " (http " + route.http_target.to_string() + ")";
  return text;
}

}  // namespace

CommandOutcome routes_add(const RouteAddOptions& options) {
  auto route = route_from_options(options);
  if (!route) return usage_error(route.error());
  if (auto refused = refuse_uninitialised(options.data_dir)) return *refused;
  auto table = RouteTable::open_writable(options.data_dir);
  if (!table) return runtime_error(table.error());
  // Only to word the confirmation: put() replaces an existing key either way.
  auto existing = table->list();
  if (!existing) return runtime_error(existing.error());
  bool replaced = std::any_of(existing->begin(), existing->end(),
                              [&](const auto& entry) { return entry.first == options.host; });
  if (auto put = table->put(options.host, route.value()); !put) return runtime_error(put.error());
  return {kExitOk, (replaced ? "updated route " : "added route ") +
                       describe(options.host, route.value()) + "\n"};
}

CommandOutcome routes_rm(const std::string& host, const std::string& data_dir) {
  if (auto valid = validate_route_hostname(host); !valid) {
    return usage_error(valid.error());
  }
  if (auto refused = refuse_uninitialised(data_dir)) return *refused;
  if (!table_exists(data_dir)) return {kExitRuntime, "no route for " + host};
  auto table = RouteTable::open_writable(data_dir);
  if (!table) return runtime_error(table.error());
  auto removed = table->remove(host);
  if (!removed) return runtime_error(removed.error());
  if (!removed.value()) return {kExitRuntime, "no route for " + host};
  return {kExitOk, "removed route " + host + "\n"};
}

CommandOutcome routes_list(const std::string& data_dir, bool json) {
  if (auto refused = refuse_uninitialised(data_dir)) return *refused;
  RouteEntries routes;
  // Listing a directory that holds no table shows an empty table instead of creating one.
  if (table_exists(data_dir)) {
    auto table = RouteTable::open_readonly(data_dir);
    if (!table) return runtime_error(table.error());
    auto listed = table->list();
    if (!listed) return runtime_error(listed.error());
    routes = std::move(listed.value());
  }
  return {kExitOk, json ? format_route_json(routes) : format_route_table(routes)};
}

}  // namespace cloudlink::control
