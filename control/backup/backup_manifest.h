// The manifest of a cloudlink backup archive: what the archive holds and who wrote it. It is
// the archive's first member, `manifest.json`, and restore trusts nothing the manifest does not
// declare: every other member must be listed with its exact size and SHA-256, and only the
// member names below exist.
//
//   {"format": "cloudlink-backup", "format_version": 1, "cloudlink_version": "0.1.0",
//    "created_at": "2026-12-02T17:30:00Z",
//    "members": [{"name": "state/data.mdb", "bytes": 65536, "sha256": "<64 hex>"}, ...]}
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cloudlink::control::backup {

inline constexpr std::string_view kFormatName = "cloudlink-backup";
inline constexpr int kFormatVersion = 1;
inline constexpr std::string_view kManifestName = "manifest.json";
inline constexpr size_t kMaxManifestBytes = 64 * 1024;

// The members a backup may hold besides the manifest, and the most bytes each may have: the
// compacted state (at most the largest LMDB map control allows), control's ACME account key and
// its own certificate chain and key.
struct MemberKind {
  std::string_view name;
  uint64_t max_bytes;
  bool required;
};
inline constexpr std::string_view kStateMember = "state/data.mdb";
inline constexpr std::string_view kAcmeAccountMember = "acme/account.pem";
inline constexpr std::string_view kTlsChainMember = "tls/fullchain.pem";
inline constexpr std::string_view kTlsKeyMember = "tls/key.pem";
inline constexpr MemberKind kMemberKinds[] = {
    {kStateMember, uint64_t{1} << 40, true},
    {kAcmeAccountMember, 1 << 20, false},
    {kTlsChainMember, 1 << 20, false},
    {kTlsKeyMember, 1 << 20, false},
};
// The kind of a member name, nullopt for any other name (paths like "../x" or "/etc/x" too).
std::optional<MemberKind> member_kind(std::string_view name);

struct ManifestMember {
  std::string name;
  uint64_t bytes = 0;
  std::string sha256;  // 64 lower-case hex digits
};

struct Manifest {
  int format_version = kFormatVersion;
  std::string cloudlink_version;
  std::string created_at;  // RFC 3339 UTC, "2026-12-02T17:30:00Z"
  std::vector<ManifestMember> members;

  const ManifestMember* find(std::string_view name) const;
};

// The manifest as its JSON text.
std::string manifest_json(const Manifest& manifest);

// Parses and checks a manifest: JSON object with exactly the keys above, the format name, a
// format version this program reads, known member names (each once, the state required),
// sizes within each member's bound and well-formed digests. Errors say which rule failed.
Result<Manifest> parse_manifest(std::string_view text);

// text for a message: at most 80 characters, anything unprintable as '?' (names read from an
// archive are hostile).
std::string printable(std::string_view text);

// Lower-case hex of bytes.
std::string hex(std::string_view bytes);

}  // namespace cloudlink::control::backup
