#include "control/backup/backup_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <memory>
#include <set>

namespace cloudlink::control::backup {
namespace {

constexpr size_t kChunk = 64 * 1024;
// The manifest plus every member a backup can hold: a longer archive is not one of ours.
constexpr size_t kMaxEntries = 1 + std::size(kMemberKinds);

struct ReadCloser {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriteCloser {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryCloser {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using ReadArchive = std::unique_ptr<archive, ReadCloser>;

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr); }
  void update(std::string_view bytes) { EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size()); }
  std::string hex_digest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(ctx_.get(), digest, &length);
    return hex(std::string_view(reinterpret_cast<const char*>(digest), length));
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

// libarchive's last error for a message, or fallback when it has none.
std::string archive_text(archive* a, const char* fallback) {
  const char* text = archive_error_string(a);
  return printable(text != nullptr ? text : fallback);
}

Error archive_failure(archive* a, const std::string& what) {
  const char* text = archive_error_string(a);
  return invalid(what + ": " + printable(text != nullptr ? text : "unreadable archive"));
}

// The header checks every member passes before any of its bytes is read.
Result<std::string> checked_name(archive_entry* entry) {
  const char* raw = archive_entry_pathname(entry);
  std::string name = raw != nullptr ? raw : "";
  if (archive_entry_filetype(entry) != AE_IFREG || archive_entry_hardlink(entry) != nullptr ||
      archive_entry_symlink(entry) != nullptr) {
    return invalid("archive member '" + printable(name) + "' is not a regular file (refused)");
  }
  if (archive_entry_sparse_count(entry) > 0 || !archive_entry_size_is_set(entry) ||
      archive_entry_size(entry) < 0) {
    return invalid("archive member '" + printable(name) + "' has no plain size (refused)");
  }
  if (name != kManifestName && !member_kind(name)) {
    return invalid("archive member '" + printable(name) + "' is not part of a backup (refused)");
  }
  return name;
}

Result<std::string> read_manifest_text(archive* a, archive_entry* entry) {
  auto name = checked_name(entry);
  if (!name) return name.error();
  if (*name != kManifestName) {
    return invalid("the archive does not start with manifest.json: not a cloudlink backup");
  }
  if (static_cast<uint64_t>(archive_entry_size(entry)) > kMaxManifestBytes) {
    return invalid("manifest.json is larger than 64 KiB (refused)");
  }
  std::string text(static_cast<size_t>(archive_entry_size(entry)), '\0');
  size_t got = 0;
  while (got < text.size()) {
    la_ssize_t n = archive_read_data(a, text.data() + got, text.size() - got);
    if (n < 0) return archive_failure(a, "manifest.json");
    if (n == 0) return invalid("manifest.json is cut short");
    got += static_cast<size_t>(n);
  }
  return text;
}

Result<void> copy_member(archive* a, const ManifestMember& member, MemberSink& sink) {
  if (auto begun = sink.begin(member); !begun) return begun;
  Sha256 sha;
  uint64_t got = 0;
  std::string buffer(kChunk, '\0');
  for (;;) {
    la_ssize_t n = archive_read_data(a, buffer.data(), buffer.size());
    if (n < 0) return archive_failure(a, member.name);
    if (n == 0) break;
    got += static_cast<uint64_t>(n);
    if (got > member.bytes) return invalid(member.name + ": more bytes than the manifest says");
    std::string_view chunk(buffer.data(), static_cast<size_t>(n));
    sha.update(chunk);
    if (auto written = sink.write(chunk); !written) return written;
  }
  if (got != member.bytes) return invalid(member.name + ": cut short");
  if (sha.hex_digest() != member.sha256) {
    return invalid(member.name + ": SHA-256 differs from the manifest (damaged backup)");
  }
  return sink.finish();
}

Result<Manifest> read_entries(archive* a, MemberSink& sink) {
  archive_entry* entry = nullptr;
  int rc = archive_read_next_header(a, &entry);
  if (rc == ARCHIVE_EOF) return invalid("the archive is empty: not a cloudlink backup");
  if (rc != ARCHIVE_OK) return archive_failure(a, "not a readable tar archive");
  auto text = read_manifest_text(a, entry);
  if (!text) return text.error();
  auto manifest = parse_manifest(*text);
  if (!manifest)
    return Error(manifest.error().code(), "manifest.json: " + manifest.error().context());
  std::set<std::string> seen;
  for (size_t entries = 1;; ++entries) {
    rc = archive_read_next_header(a, &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK) return archive_failure(a, "archive");
    if (entries >= kMaxEntries) return invalid("the archive holds more members than a backup");
    auto name = checked_name(entry);
    if (!name) return name.error();
    const ManifestMember* member = manifest->find(*name);
    if (member == nullptr) return invalid(*name + " is in the archive but not in its manifest");
    if (!seen.insert(*name).second) return invalid(*name + " is in the archive twice");
    if (static_cast<uint64_t>(archive_entry_size(entry)) != member->bytes) {
      return invalid(*name + ": its size differs from the manifest");
    }
    if (auto copied = copy_member(a, *member, sink); !copied) return copied.error();
  }
  for (const ManifestMember& member : manifest->members) {
    if (!seen.contains(member.name)) return invalid(member.name + " is missing from the archive");
  }
  return manifest;
}

ReadArchive new_reader() {
  ReadArchive a(archive_read_new());
  // Tar only, no decompression filters: a backup is written uncompressed (the state is
  // already compacted), and each format left out is parser code a hostile file cannot reach.
  archive_read_support_format_tar(a.get());
  return a;
}

Result<void> write_all(archive* a, std::string_view bytes, const std::string& name) {
  while (!bytes.empty()) {
    la_ssize_t n = archive_write_data(a, bytes.data(), bytes.size());
    if (n <= 0) return Error(EIO, name + ": " + archive_text(a, "write failed"));
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return ok();
}

// Calls each(chunk) over the whole of source's bytes.
template <typename F>
Result<void> for_each_chunk(const MemberSource& source, F&& each) {
  if (source.fd < 0) return each(std::string_view(source.content));
  std::string buffer(kChunk, '\0');
  for (off_t offset = 0;;) {
    ssize_t n = ::pread(source.fd, buffer.data(), buffer.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("read " + source.name);
    if (n == 0) return ok();
    offset += n;
    if (auto done = each(std::string_view(buffer.data(), static_cast<size_t>(n))); !done) {
      return done;
    }
  }
}

Result<void> write_member(archive* a, const std::string& name, uint64_t bytes,
                          const MemberSource* source, std::string_view content) {
  std::unique_ptr<archive_entry, EntryCloser> entry(archive_entry_new());
  archive_entry_set_pathname(entry.get(), name.c_str());
  archive_entry_set_size(entry.get(), static_cast<la_int64_t>(bytes));
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_perm(entry.get(), 0600);
  archive_entry_set_mtime(entry.get(), std::time(nullptr), 0);
  if (archive_write_header(a, entry.get()) != ARCHIVE_OK) {
    return Error(EIO, name + ": " + archive_text(a, "header"));
  }
  if (source == nullptr) return write_all(a, content, name);
  return for_each_chunk(*source, [&](std::string_view chunk) { return write_all(a, chunk, name); });
}

}  // namespace

Result<Manifest> read_archive_file(const std::string& path, MemberSink& sink) {
  ReadArchive a = new_reader();
  if (archive_read_open_filename(a.get(), path.c_str(), kChunk) != ARCHIVE_OK) {
    return archive_failure(a.get(), "not a readable tar archive");
  }
  return read_entries(a.get(), sink);
}

Result<Manifest> read_archive_memory(std::string_view bytes, MemberSink& sink) {
  ReadArchive a = new_reader();
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) {
    return archive_failure(a.get(), "not a readable tar archive");
  }
  return read_entries(a.get(), sink);
}

Result<ManifestMember> describe(const MemberSource& source) {
  Sha256 sha;
  uint64_t bytes = 0;
  auto read = for_each_chunk(source, [&](std::string_view chunk) {
    sha.update(chunk);
    bytes += chunk.size();
    return ok();
  });
  if (!read) return read.error();
  return ManifestMember{source.name, bytes, sha.hex_digest()};
}

Result<void> write_archive(int out_fd, const Manifest& manifest,
                           const std::vector<MemberSource>& sources) {
  std::unique_ptr<archive, WriteCloser> a(archive_write_new());
  if (archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
      archive_write_open_fd(a.get(), out_fd) != ARCHIVE_OK) {
    return Error(EIO, archive_text(a.get(), "archive_write_open_fd"));
  }
  std::string text = manifest_json(manifest);
  auto written = write_member(a.get(), std::string(kManifestName), text.size(), nullptr, text);
  if (!written) return written;
  for (const MemberSource& source : sources) {
    const ManifestMember* member = manifest.find(source.name);
    if (member == nullptr) return invalid(source.name + " is not in the manifest");
    if (auto w = write_member(a.get(), source.name, member->bytes, &source, {}); !w) return w;
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    return Error(EIO, archive_text(a.get(), "archive_write_close"));
  }
  return ok();
}

}  // namespace cloudlink::control::backup
