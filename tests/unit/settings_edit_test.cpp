// common/settings_edit.h: init edits /etc/cloudlink/control.conf like an operator would, in
// place, keeping every comment and every other line as it was; and writes it atomically,
// keeping the file's mode.
#include "common/settings_edit.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>

#include "common/settings_file.h"
#include "temp_dir.h"
#include "test_result.h"

namespace cloudlink {
namespace {

using testing::TempDir;

std::string edited(std::string_view text, const std::vector<SettingUpdate>& updates,
                   std::string_view heading = {}) {
  auto out = edit_settings(text, "control.conf", updates, heading);
  EXPECT_OK(out);
  return out ? *out : std::string("<error>");
}

TEST(SettingsEdit, ReplacesAValueInPlaceKeepingEveryOtherLine) {
  const std::string text =
      "# cloudlink-control serve settings\n"
      "\n"
      "registration = closed   \n"
      "  quota_homes=3\n"
      "# the end\n";
  EXPECT_EQ(edited(text, {{"quota-homes", "5"}}),
            "# cloudlink-control serve settings\n"
            "\n"
            "registration = closed   \n"
            "  quota_homes = 5\n"
            "# the end\n");
}

TEST(SettingsEdit, PutsANewSettingAfterItsCommentedExample) {
  const std::string text =
      "# Your VPS's DNS name:\n"
      "# acme-hostname = vps.example.net\n"
      "\n"
      "# Tunnel ports:\n"
      "#port-range=20000-29999\n";
  EXPECT_EQ(edited(text, {{"acme-hostname", "relay.example.com"}, {"port-range", "30000-30999"}}),
            "# Your VPS's DNS name:\n"
            "# acme-hostname = vps.example.net\n"
            "acme-hostname = relay.example.com\n"
            "\n"
            "# Tunnel ports:\n"
            "#port-range=20000-29999\n"
            "port-range = 30000-30999\n");
}

TEST(SettingsEdit, AppendsUnderAHeadingOnlyWhenSomethingIsNew) {
  EXPECT_EQ(edited("# shipped\nregistration = closed", {{"ssh-host", "a.test"}}, "# by init"),
            "# shipped\nregistration = closed\n\n# by init\nssh-host = a.test\n");
  // Nothing appended: no heading, and a file without a final newline stays so.
  EXPECT_EQ(edited("registration = closed", {{"registration", "open"}}, "# by init"),
            "registration = open");
  EXPECT_EQ(edited("", {{"ssh-host", "a.test"}}, "# by init"), "# by init\nssh-host = a.test\n");
}

TEST(SettingsEdit, AListBecomesOneValueAndCrlfLinesKeepTheirEnding) {
  EXPECT_EQ(edited("accept-proxy-from = 10.0.0.0/8\r\nx = 1\r\naccept_proxy_from = 10.1.0.0/16\r\n",
                   {{"accept-proxy-from", "127.0.0.1/32"}}),
            "accept-proxy-from = 127.0.0.1/32\r\nx = 1\r\n");
}

TEST(SettingsEdit, TheResultReadsBackAsTheUpdates) {
  const std::string text = "# c\ndata = /srv/old\n# tls-dir = /x\n";
  const std::vector<SettingUpdate> updates = {{"data", "/var/lib/cloudlink"},
                                              {"tls-dir", "/var/lib/cloudlink/tls"},
                                              {"ssh-host", "h.test"}};
  auto file = parse_settings(edited(text, updates), "control.conf");
  ASSERT_OK(file);
  ASSERT_EQ(file->entries.size(), 3u);
  for (size_t i = 0; i < updates.size(); ++i) {
    bool found = false;
    for (const SettingsEntry& entry : file->entries) {
      if (entry.name == updates[i].name) {
        EXPECT_EQ(entry.value, updates[i].value);
        found = true;
      }
    }
    EXPECT_TRUE(found) << updates[i].name;
  }
}

TEST(SettingsEdit, RefusesABrokenFileAndUpdatesThatWouldNotReadBack) {
  EXPECT_ERR_WITH(edit_settings("ok = 1\nno equals here\n", "control.conf", {{"a", "b"}}),
                  "control.conf:2");
  EXPECT_ERR_WITH(edit_settings("", "c", {{"Bad", "x"}}), "[a-z0-9-]");
  EXPECT_ERR_WITH(edit_settings("", "c", {{"under_score", "x"}}), "[a-z0-9-]");
  EXPECT_ERR_WITH(edit_settings("", "c", {{"a", "two\nlines"}}), "line break");
  EXPECT_ERR_WITH(edit_settings("", "c", {{"a", " padded"}}), "space");
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(SettingsEdit, WritesAtomicallyKeepingTheModeAndMakingTheFolder) {
  TempDir dir;
  const std::string path = dir.path() + "/etc/cloudlink/control.conf";
  ASSERT_OK(write_settings_file(path, "a = 1\n"));
  EXPECT_EQ(read_all(path), "a = 1\n");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  ASSERT_OK(write_settings_file(path, "a = 2\n"));
  EXPECT_EQ(read_all(path), "a = 2\n");
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  // No temporary file is left beside it.
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path() + "/etc/cloudlink")) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

}  // namespace
}  // namespace cloudlink
