#include "control/backup/backup_manifest.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

namespace cloudlink::control::backup {
namespace {

using Json = nlohmann::json;

bool is_sha256_hex(const std::string& text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// A JSON object holding exactly the given keys.
Result<void> exact_keys(const Json& object, std::initializer_list<std::string_view> keys,
                        const std::string& what) {
  if (!object.is_object()) return invalid(what + " is not a JSON object");
  for (const auto& [key, value] : object.items()) {
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      return invalid(what + " has an unknown key '" + key + "'");
    }
  }
  for (std::string_view key : keys) {
    if (!object.contains(std::string(key)))
      return invalid(what + " has no '" + std::string(key) + "'");
  }
  return ok();
}

Result<ManifestMember> parse_member(const Json& entry) {
  if (auto keys = exact_keys(entry, {"name", "bytes", "sha256"}, "a manifest member"); !keys) {
    return keys.error();
  }
  const Json& name = entry["name"];
  const Json& bytes = entry["bytes"];
  const Json& sha = entry["sha256"];
  if (!name.is_string()) return invalid("a manifest member's name is not a string");
  auto kind = member_kind(name.get_ref<const std::string&>());
  if (!kind) {
    return invalid("the manifest lists '" + printable(name.get_ref<const std::string&>()) +
                   "', which is not part of a backup");
  }
  ManifestMember member;
  member.name = std::string(kind->name);
  if (!bytes.is_number_unsigned()) return invalid(member.name + ": bytes is not a count");
  member.bytes = bytes.get<uint64_t>();
  if (member.bytes > kind->max_bytes) {
    return invalid(member.name + ": " + std::to_string(member.bytes) + " bytes, more than the " +
                   std::to_string(kind->max_bytes) + " a backup may hold");
  }
  if (!sha.is_string() || !is_sha256_hex(sha.get_ref<const std::string&>())) {
    return invalid(member.name + ": sha256 is not 64 lower-case hex digits");
  }
  member.sha256 = sha.get<std::string>();
  return member;
}

}  // namespace

std::optional<MemberKind> member_kind(std::string_view name) {
  for (const MemberKind& kind : kMemberKinds) {
    if (kind.name == name) return kind;
  }
  return std::nullopt;
}

const ManifestMember* Manifest::find(std::string_view name) const {
  for (const ManifestMember& member : members) {
    if (member.name == name) return &member;
  }
  return nullptr;
}

std::string manifest_json(const Manifest& manifest) {
  Json members = Json::array();
  for (const ManifestMember& m : manifest.members) {
    members.push_back({{"name", m.name}, {"bytes", m.bytes}, {"sha256", m.sha256}});
  }
  Json out = {{"format", std::string(kFormatName)},
              {"format_version", manifest.format_version},
              {"cloudlink_version", manifest.cloudlink_version},
              {"created_at", manifest.created_at},
              {"members", members}};
  return out.dump(2) + "\n";
}

Result<Manifest> parse_manifest(std::string_view text) {
  if (text.size() > kMaxManifestBytes) return invalid("the manifest is larger than 64 KiB");
  Json doc = Json::parse(text.begin(), text.end(), nullptr, false);
  if (doc.is_discarded()) return invalid("the manifest is not valid JSON");
  auto keys =
      exact_keys(doc, {"format", "format_version", "cloudlink_version", "created_at", "members"},
                 "the manifest");
  if (!keys) return keys.error();
  if (!doc["format"].is_string() || doc["format"].get<std::string>() != kFormatName) {
    return invalid("not a cloudlink backup (format is not '" + std::string(kFormatName) + "')");
  }
  const Json& version = doc["format_version"];
  if (!version.is_number_integer()) return invalid("format_version is not a number");
  if (version.get<int64_t>() != kFormatVersion) {
    return invalid("backup format version " + version.dump() + ", this cloudlink-control reads " +
                   std::to_string(kFormatVersion) +
                   (version.get<int64_t>() > kFormatVersion ? " (made by a newer cloudlink)" : ""));
  }
  Manifest manifest;
  if (!doc["cloudlink_version"].is_string() || !doc["created_at"].is_string()) {
    return invalid("cloudlink_version and created_at must be strings");
  }
  manifest.cloudlink_version = doc["cloudlink_version"].get<std::string>();
  manifest.created_at = doc["created_at"].get<std::string>();
  const Json& members = doc["members"];
  if (!members.is_array()) return invalid("members is not a list");
  if (members.size() > std::size(kMemberKinds))
    return invalid("the manifest lists too many members");
  std::set<std::string> seen;
  for (const Json& entry : members) {
    auto member = parse_member(entry);
    if (!member) return member.error();
    if (!seen.insert(member->name).second) {
      return invalid("the manifest lists " + member->name + " twice");
    }
    manifest.members.push_back(std::move(*member));
  }
  for (const MemberKind& kind : kMemberKinds) {
    if (kind.required && !seen.contains(std::string(kind.name))) {
      return invalid("the manifest lists no " + std::string(kind.name));
    }
  }
  return manifest;
}

std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 80)) {
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  if (text.size() > 80) out += "...";
  return out;
}

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

}  // namespace cloudlink::control::backup
