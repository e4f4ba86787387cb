// Which key each open SSH session logged in with. sshd runs `authorized-keys` from the
// privileged monitor process of the connection, so the command's parent is that monitor,
// which lives as long as the session: when it lets a key in, authorized-keys records
// DIR/PID = "STARTTIME KEYBASE64\n" for its parent (the start time tells a reused pid apart).
// The reaper reads the records and ends the sessions whose key no longer may log in (a
// deleted, deactivated, expired or rotated-away home), listener or not, and drops records of
// sessions that ended.
//
// The directory (deploy: /run/cloudlink-sessions, 0700, owned by the key user) is written by
// the unprivileged key user and read by root: a record is text parsed strictly.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cloudlink::sessions {

struct SessionRecord {
  pid_t pid = 0;           // the sshd monitor of the connection
  uint64_t starttime = 0;  // its /proc/PID/stat start time
  std::string key;         // the key's base64 blob
};

// A record from its file name (the pid) and text; nullopt when either is malformed.
std::optional<SessionRecord> parse_session_record(std::string_view name, std::string_view text);

// Records that monitor (its start time read from proc_root) let key_base64 in; written to a
// temporary file and renamed, so a reader never sees half a record.
Result<void> record_session(const std::string& dir, pid_t monitor, std::string_view key_base64,
                            const std::string& proc_root = "/proc");

// Every well-formed record in dir (malformed files are skipped).
std::vector<SessionRecord> read_session_records(const std::string& dir);
void forget_session(const std::string& dir, pid_t pid);

}  // namespace cloudlink::sessions
