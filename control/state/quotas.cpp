#include "control/state/quotas.h"

#include <nlohmann/json.hpp>
#include <set>

#include "control/state/errors.h"
#include "control/state/records.h"

namespace cloudlink::state {

Quota effective_quota(const Quota& defaults, const QuotaOverride& own) {
  return {own.homes.value_or(defaults.homes), own.mappings.value_or(defaults.mappings),
          own.port_blocks.value_or(defaults.port_blocks)};
}

Error quota_reached(std::string_view what, uint32_t limit, const std::string& username) {
  return conflict("quota: " + std::string(what) + " (" + std::to_string(limit) + ") reached for " +
                  username);
}

std::string encode(const QuotaOverride& own) {
  nlohmann::json j{{"v", 1}};
  if (own.homes) j["homes"] = *own.homes;
  if (own.mappings) j["mappings"] = *own.mappings;
  if (own.port_blocks) j["port_blocks"] = *own.port_blocks;
  return j.dump();
}

Result<QuotaOverride> decode_quota(std::string_view bytes) {
  auto j = nlohmann::json::parse(bytes, nullptr, false);
  if (!j.is_object() || j.value("v", 0) != 1) {
    return Error(EIO, "state: quota record is not a version 1 record");
  }
  QuotaOverride out;
  for (auto [name, field] : {std::pair{"homes", &out.homes},
                             {"mappings", &out.mappings},
                             {"port_blocks", &out.port_blocks}}) {
    auto it = j.find(name);
    if (it == j.end()) continue;
    if (!it->is_number_unsigned() || it->get<uint64_t>() > kMaxQuotaValue) {
      return Error(EIO, std::string("state: quota record: bad ") + name);
    }
    *field = it->get<uint32_t>();
  }
  return out;
}

Result<QuotaUsage> count_usage(const Txn& txn, MDB_dbi homes, MDB_dbi home_hosts, MDB_dbi ports,
                               const std::string& owner) {
  QuotaUsage usage;
  std::set<std::string, std::less<>> ids;
  std::optional<Error> failed;
  auto scanned = txn.scan(homes, {}, [&](std::string_view id, std::string_view value) {
    auto home = decode_home(id, value);
    if (!home) {
      failed = home.error();
      return false;
    }
    if (home->owner == owner) ids.emplace(id);
    return true;
  });
  if (!scanned) return scanned.error();
  if (failed) return *failed;
  usage.homes = static_cast<uint32_t>(ids.size());
  for (const std::string& id : ids) {
    std::string prefix = id + '\0';
    auto counted = txn.scan(home_hosts, prefix, [&](std::string_view key, std::string_view) {
      if (key.substr(0, prefix.size()) != prefix) return false;
      usage.mappings++;
      return true;
    });
    if (!counted) return counted.error();
  }
  auto blocks = txn.scan(ports, {}, [&](std::string_view, std::string_view value) {
    auto block = decode_port_block(value);
    // A deleted home's block still in quarantine counts against the owner it had.
    if (block &&
        (ids.count(block->home_id) != 0 || (block->quarantined_at != 0 && block->owner == owner))) {
      usage.port_blocks++;
    }
    return true;
  });
  if (!blocks) return blocks.error();
  return usage;
}

}  // namespace cloudlink::state
