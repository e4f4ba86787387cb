// The backup archive format (control/backup): the manifest parser's rules, and the archive
// reader against well-formed and hostile tars (made here with libarchive, as an attacker
// would).
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <sys/mman.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "control/backup/backup_archive.h"
#include "control/backup/backup_manifest.h"

namespace cloudlink::control::backup {
namespace {

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return hex(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::string manifest_with(const std::string& members_json, const std::string& version = "1") {
  return R"({"format":"cloudlink-backup","format_version":)" + version +
         R"(,"cloudlink_version":"0.1.0","created_at":"2026-12-02T17:30:00Z","members":)" +
         members_json + "}";
}

std::string member_json(const std::string& name, std::string_view content) {
  return R"({"name":")" + name + R"(","bytes":)" + std::to_string(content.size()) +
         R"(,"sha256":")" + sha256_hex(content) + R"("})";
}

TEST(BackupManifest, RoundTrips) {
  Manifest m;
  m.cloudlink_version = "0.1.0";
  m.created_at = "2026-12-02T17:30:00Z";
  m.members.push_back({"state/data.mdb", 4096, sha256_hex("x")});
  m.members.push_back({"tls/key.pem", 10, sha256_hex("y")});
  auto parsed = parse_manifest(manifest_json(m));
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->cloudlink_version, "0.1.0");
  ASSERT_EQ(parsed->members.size(), 2u);
  EXPECT_EQ(parsed->members[0].bytes, 4096u);
  EXPECT_EQ(parsed->find("tls/key.pem")->sha256, sha256_hex("y"));
  EXPECT_EQ(parsed->find("acme/account.pem"), nullptr);
}

TEST(BackupManifest, RefusesWhatIsNotOurs) {
  const std::string state = member_json("state/data.mdb", "s");
  struct Case {
    const char* what;
    std::string text;
    const char* message;
  } cases[] = {
      {"not JSON", "{", "not valid JSON"},
      {"a list", "[]", "not a JSON object"},
      {"other format",
       R"({"format":"tar","format_version":1,"cloudlink_version":"","created_at":"","members":[]})",
       "not a cloudlink backup"},
      {"newer version", manifest_with("[" + state + "]", "2"), "made by a newer cloudlink"},
      {"version as text", manifest_with("[" + state + "]", "\"1\""),
       "format_version is not a number"},
      {"no state", manifest_with("[]"), "lists no state/data.mdb"},
      {"unknown key", manifest_with("[" + state + "]").insert(1, R"("extra":1,)"),
       "unknown key 'extra'"},
      {"missing key", R"({"format":"cloudlink-backup","format_version":1})", "has no"},
      {"path traversal",
       manifest_with("[" + state + "," + member_json("../../etc/passwd", "x") + "]"),
       "'../../etc/passwd', which is not part of a backup"},
      {"absolute path", manifest_with("[" + member_json("/state/data.mdb", "x") + "]"),
       "not part of a backup"},
      {"twice", manifest_with("[" + state + "," + state + "]"), "twice"},
      {"huge pem",
       manifest_with("[" + state + R"(,{"name":"tls/key.pem","bytes":1099511627776,"sha256":")" +
                     sha256_hex("") + R"("}])"),
       "more than the 1048576 a backup may hold"},
      {"negative size",
       manifest_with(R"([{"name":"state/data.mdb","bytes":-1,"sha256":")" + sha256_hex("") +
                     R"("}])"),
       "bytes is not a count"},
      {"bad digest", manifest_with(R"([{"name":"state/data.mdb","bytes":1,"sha256":"ABC"}])"),
       "sha256 is not 64 lower-case hex"},
      {"too big", std::string(70000, ' '), "larger than 64 KiB"},
  };
  for (const Case& c : cases) {
    auto parsed = parse_manifest(c.text);
    ASSERT_FALSE(parsed) << c.what;
    EXPECT_NE(parsed.error().message().find(c.message), std::string::npos)
        << c.what << ": " << parsed.error().message();
  }
}

TEST(BackupManifest, NamesAreShownPrintable) {
  auto parsed = parse_manifest(manifest_with("[" + member_json("a\\u001b[2Jb", "x") + "]"));
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().message().find('\x1b'), std::string::npos);
}

// A tar built member by member, hostile or not.
struct TarMember {
  TarMember(std::string n, std::string c, mode_t t = AE_IFREG, std::string l = {},
            int64_t size = -1)
      : name(std::move(n)),
        content(std::move(c)),
        type(t),
        link(std::move(l)),
        declared_size(size) {}
  std::string name;
  std::string content;
  mode_t type;
  std::string link;       // symlink target or hard link source
  int64_t declared_size;  // header size; -1: content's size
};

std::string make_tar(const std::vector<TarMember>& members) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open(
      a, &out, nullptr,
      [](archive*, void* client, const void* buffer, size_t length) -> la_ssize_t {
        static_cast<std::string*>(client)->append(static_cast<const char*>(buffer), length);
        return static_cast<la_ssize_t>(length);
      },
      nullptr);
  for (const TarMember& m : members) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.name.c_str());
    archive_entry_set_filetype(e, m.type);
    archive_entry_set_perm(e, 0600);
    if (m.type == AE_IFLNK) archive_entry_set_symlink(e, m.link.c_str());
    if (m.type == AE_IFREG && !m.link.empty()) archive_entry_set_hardlink(e, m.link.c_str());
    archive_entry_set_size(
        e, m.declared_size >= 0 ? m.declared_size : static_cast<int64_t>(m.content.size()));
    archive_write_header(a, e);
    archive_write_data(a, m.content.data(), m.content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

class CollectingSink : public MemberSink {
 public:
  Result<void> begin(const ManifestMember& m) override {
    current_ = m.name;
    files[current_].clear();
    return ok();
  }
  Result<void> write(std::string_view chunk) override {
    files[current_].append(chunk);
    return ok();
  }
  Result<void> finish() override {
    finished.push_back(current_);
    return ok();
  }
  std::map<std::string, std::string> files;
  std::vector<std::string> finished;

 private:
  std::string current_;
};

const std::string kState = std::string(5000, 's') + "end";
const std::string kKey = "-----BEGIN PRIVATE KEY-----\n";

std::string good_manifest() {
  return manifest_with("[" + member_json("state/data.mdb", kState) + "," +
                       member_json("tls/key.pem", kKey) + "]");
}

TEST(BackupArchive, ReadsWhatItWrote) {
  Manifest m;
  m.cloudlink_version = "0.1.0";
  m.created_at = "2026-12-02T17:30:00Z";
  int fd = ::memfd_create("state", MFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, kState.data(), kState.size()), static_cast<ssize_t>(kState.size()));
  std::vector<MemberSource> sources = {{"state/data.mdb", {}, fd}, {"tls/key.pem", kKey, -1}};
  for (const auto& s : sources) m.members.push_back(describe(s).value());
  int out = ::memfd_create("out", MFD_CLOEXEC);
  ASSERT_TRUE(write_archive(out, m, sources));
  std::string bytes(static_cast<size_t>(::lseek(out, 0, SEEK_END)), '\0');
  ASSERT_EQ(::pread(out, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
  ::close(fd);
  ::close(out);
  CollectingSink sink;
  auto read = read_archive_memory(bytes, sink);
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_EQ(sink.files["state/data.mdb"], kState);
  EXPECT_EQ(sink.files["tls/key.pem"], kKey);
  EXPECT_EQ(sink.finished.size(), 2u);
}

TEST(BackupArchive, RefusesHostileArchives) {
  const std::string manifest = good_manifest();
  struct Case {
    const char* what;
    std::string tar;
    const char* message;
  } cases[] = {
      {"not a tar", "hello, world, this is not a tar archive at all", "not a readable tar"},
      {"empty tar", make_tar({}), "empty"},
      {"no manifest first", make_tar({{"state/data.mdb", kState}, {"manifest.json", manifest}}),
       "does not start with manifest.json"},
      {"path traversal", make_tar({{"manifest.json", manifest}, {"../state/data.mdb", kState}}),
       "'../state/data.mdb' is not part of a backup"},
      {"absolute path", make_tar({{"manifest.json", manifest}, {"/etc/cron.d/x", "x"}}),
       "not part of a backup"},
      {"symlink",
       make_tar({{"manifest.json", manifest}, {"state/data.mdb", "", AE_IFLNK, "/etc/shadow", 0}}),
       "not a regular file"},
      {"hard link",
       make_tar({{"manifest.json", manifest}, {"state/data.mdb", "", AE_IFREG, "/etc/shadow", 0}}),
       "not a regular file"},
      {"directory", make_tar({{"manifest.json", manifest}, {"state/data.mdb", "", AE_IFDIR}}),
       "not a regular file"},
      {"member missing", make_tar({{"manifest.json", manifest}, {"state/data.mdb", kState}}),
       "tls/key.pem is missing"},
      {"undeclared member",
       make_tar(
           {{"manifest.json", manifest_with("[" + member_json("state/data.mdb", kState) + "]")},
            {"state/data.mdb", kState},
            {"tls/key.pem", kKey}}),
       "not in its manifest"},
      {"damaged",
       make_tar({{"manifest.json", manifest},
                 {"state/data.mdb", std::string(5000, 's') + "END"},
                 {"tls/key.pem", kKey}}),
       "SHA-256 differs"},
      {"size differs", make_tar({{"manifest.json", manifest}, {"state/data.mdb", kState + "x"}}),
       "size differs"},
      {"twice",
       make_tar({{"manifest.json", manifest}, {"tls/key.pem", kKey}, {"tls/key.pem", kKey}}),
       "twice"},
      {"huge manifest", make_tar({{"manifest.json", std::string(100000, ' ')}}),
       "larger than 64 KiB"},
      {"wrong version",
       make_tar({{"manifest.json",
                  manifest_with("[" + member_json("state/data.mdb", kState) + "]", "7")}}),
       "format version 7"},
  };
  for (const Case& c : cases) {
    CollectingSink sink;
    auto read = read_archive_memory(c.tar, sink);
    ASSERT_FALSE(read) << c.what;
    EXPECT_NE(read.error().message().find(c.message), std::string::npos)
        << c.what << ": " << read.error().message();
  }
}

TEST(BackupArchive, TruncatedArchiveIsRefusedAtEveryLength) {
  std::string tar = make_tar(
      {{"manifest.json", good_manifest()}, {"state/data.mdb", kState}, {"tls/key.pem", kKey}});
  CollectingSink whole;
  ASSERT_TRUE(read_archive_memory(tar, whole));
  for (size_t cut = 0; cut + 1024 < tar.size(); cut += 97) {
    CollectingSink sink;
    EXPECT_FALSE(read_archive_memory(std::string_view(tar).substr(0, cut), sink)) << cut;
  }
}

}  // namespace
}  // namespace cloudlink::control::backup
