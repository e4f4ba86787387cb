// The backup archive on disk: a POSIX (pax) tar whose first member is manifest.json and whose
// other members are exactly the ones the manifest lists (control/backup/backup_manifest.h).
//
// Reading treats the archive as hostile: only regular files, only the member names a backup
// has (so no absolute or "../" paths, no links, no devices), each once, with the size and
// SHA-256 the manifest declares; the manifest must come first and is bounded (64 KiB), every
// member is bounded by its kind, and a member is only "finished" once all of its bytes arrived
// and matched. Nothing is written anywhere but through the caller's sink.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "control/backup/backup_manifest.h"

namespace cloudlink::control::backup {

// Where the members of an archive go while it is read.
class MemberSink {
 public:
  virtual ~MemberSink() = default;
  // A member the manifest declares starts; its bytes follow through write().
  virtual Result<void> begin(const ManifestMember& member) = 0;
  virtual Result<void> write(std::string_view chunk) = 0;
  // Every byte of the member arrived and its SHA-256 matched the manifest.
  virtual Result<void> finish() = 0;
};

// Reads the archive at path (or held in bytes) into sink; the manifest once every member it
// lists has been read and checked. Errors are one line saying what is wrong with the archive.
Result<Manifest> read_archive_file(const std::string& path, MemberSink& sink);
Result<Manifest> read_archive_memory(std::string_view bytes, MemberSink& sink);

// One member to write: its bytes are content, or (fd >= 0) the whole file behind fd, read
// from offset 0.
struct MemberSource {
  std::string name;
  std::string content;
  int fd = -1;
};

// The SHA-256 (hex) and size of a member source.
Result<ManifestMember> describe(const MemberSource& source);

// Writes manifest.json (from manifest) and then each source, in order, as a tar to out_fd.
Result<void> write_archive(int out_fd, const Manifest& manifest,
                           const std::vector<MemberSource>& sources);

}  // namespace cloudlink::control::backup
