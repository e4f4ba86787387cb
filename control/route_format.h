// Renders routes for `routes list`: an aligned text table or JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/route_record.h"

namespace cloudlink::control {

using RouteEntries = std::vector<std::pair<std::string, Route>>;

// Header line plus one line per route; columns HOST TARGETS HTTP-TARGET FLAGS HOME.
std::string format_route_table(const RouteEntries& routes);
// A JSON array of {"host","targets","http_target","flags","home"} objects.
nlohmann::json route_entries_json(const RouteEntries& routes);
// route_entries_json on one line, ASCII only.
std::string format_route_json(const RouteEntries& routes);
// Flag names joined by ',' ("proxy-v2"), or "-" when there are none.
std::string format_route_flags(uint32_t flags);

}  // namespace cloudlink::control
