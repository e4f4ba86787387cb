// common/settings_file.h, common/units.h and common/settings_cli.h: the settings file reader
// treats every length as hostile and names file, line and key; its entries go through the
// same CLI11 options as the flags, and a flag given on the command line wins.
#include "common/settings_file.h"

#include <gtest/gtest.h>

#include <string>

#include "common/settings_cli.h"
#include "common/units.h"
#include "test_result.h"

namespace cloudlink {
namespace {

TEST(SettingsFile, ReadsNamesValuesCommentsAndBlankLines) {
  auto file = parse_settings(
      "# comment\n\n  registration = closed  \nquota_homes=3\r\nallowed-domains = a.test, "
      "b.test\nempty =\n\t# indented comment\n",
      "/etc/cloudlink/control.conf");
  ASSERT_OK(file);
  ASSERT_EQ(file->entries.size(), 4u);
  EXPECT_EQ(file->entries[0].name, "registration");
  EXPECT_EQ(file->entries[0].value, "closed");
  EXPECT_EQ(file->entries[0].line, 3u);
  EXPECT_EQ(file->entries[1].name, "quota-homes");  // '_' is '-'
  EXPECT_EQ(file->entries[1].value, "3");           // '\r' dropped
  EXPECT_EQ(file->entries[2].value, "a.test, b.test");
  EXPECT_EQ(file->entries[3].value, "");
}

TEST(SettingsFile, RefusesMalformedInputNamingFileAndLine) {
  const std::string path = "c.conf";
  struct Case {
    std::string text;
    const char* mentions;
  };
  const Case cases[] = {
      {"ok = 1\njust words\n", "c.conf:2: expected `name = value`"},
      {"= value\n", "c.conf:1: a setting needs a name"},
      {"Bad = 1\n", "c.conf:1: key Bad"},
      {"a.b = 1\n", "c.conf:1: key a.b"},
      {"x = a\x01"
       "b\n",
       "c.conf:1: control character"},
      {"x = \xff\xfe\n", "c.conf:1: invalid UTF-8"},
      {"x = \xc0\xaf\n", "invalid UTF-8"},          // overlong '/'
      {"x = \xed\xa0\x80\n", "invalid UTF-8"},      // a UTF-16 surrogate
      {"x = \xf4\x90\x80\x80\n", "invalid UTF-8"},  // past U+10FFFF
      {"x = \xe2\x82\n", "invalid UTF-8"},          // truncated
      {std::string("x = a\0b\n", 8), "control character"},
      {std::string(65, 'n') + " = 1\n", "at most 64 bytes"},
      {"x = " + std::string(5000, 'v') + "\n", "c.conf:1: line longer than 4096"},
      {std::string(70 * 1024, '#'), "larger than 65536"},
  };
  for (const Case& c : cases) {
    EXPECT_ERR_WITH(parse_settings(c.text, path), c.mentions) << c.text.substr(0, 40);
  }
  std::string many;
  for (int i = 0; i < 257; ++i) many += "k" + std::to_string(i) + " = 1\n";
  EXPECT_ERR_WITH(parse_settings(many, path), "c.conf:257: more than 256 settings");
  // UTF-8 in values is fine.
  EXPECT_OK(parse_settings("motd = h\xc3\xa9llo \xf0\x9f\x98\x80\n", path));
}

TEST(SettingsFile, ReadingAMissingFileSaysWhich) {
  EXPECT_ERR_WITH(read_settings_file("/nonexistent/control.conf"), "/nonexistent/control.conf");
}

TEST(Units, ByteSizes) {
  EXPECT_EQ(parse_byte_size("1048576").value(), 1048576u);
  EXPECT_EQ(parse_byte_size("64KiB").value(), 65536u);
  EXPECT_EQ(parse_byte_size("1GiB").value(), uint64_t{1} << 30);
  EXPECT_EQ(parse_byte_size("2TiB").value(), uint64_t{2} << 40);
  for (const char* bad : {"", "GiB", "1.5GiB", "-1", "1 GiB", "1gb", "1G", "99999999999999999999",
                          "20000000TiB", "0x10"}) {
    EXPECT_ERR(parse_byte_size(bad)) << bad;
  }
}

TEST(Units, Durations) {
  EXPECT_EQ(parse_duration_seconds("90").value(), 90);
  EXPECT_EQ(parse_duration_seconds("90s").value(), 90);
  EXPECT_EQ(parse_duration_seconds("15m").value(), 900);
  EXPECT_EQ(parse_duration_seconds("2h").value(), 7200);
  EXPECT_EQ(parse_duration_seconds("365d").value(), 365 * 86400);
  EXPECT_EQ(parse_duration_seconds("0").value(), 0);
  for (const char* bad : {"", "d", "-1d", "1w", "1.5h", "1 d", "99999999999999999999d"}) {
    EXPECT_ERR(parse_duration_seconds(bad)) << bad;
  }
}

struct Flags {
  CLI::App app{"test"};
  std::string mode = "approval";
  unsigned homes = 3;
  std::vector<std::string> zones;
  std::string size = "1GiB";
  bool json = false;

  Flags() {
    app.add_option("--registration", mode)->check(CLI::IsMember({"open", "approval", "closed"}));
    app.add_option("--quota-homes", homes)->check(CLI::Range(0u, 1000u));
    app.add_option("--allowed-domains", zones)->delimiter(',');
    app.add_option("--map-size", size)->check(byte_size_validator());
    app.add_flag("--json", json);
    app.add_option("--config", size);
  }
  Result<void> run(std::vector<std::string> argv, const std::string& text) {
    std::vector<const char*> args{"test"};
    for (const auto& a : argv) args.push_back(a.c_str());
    app.parse(static_cast<int>(args.size()), args.data());
    auto file = parse_settings(text, "t.conf");
    if (!file) return file.error();
    return apply_settings(app, *file);
  }
};

TEST(SettingsCli, FileEntriesSetTheFlagsVariables) {
  Flags f;
  ASSERT_OK(f.run({},
                  "registration = closed\nquota_homes = 7\nallowed-domains = a.test,b.test\n"
                  "allowed-domains = c.test\nmap-size = 64MiB\njson = true\n"));
  EXPECT_EQ(f.mode, "closed");
  EXPECT_EQ(f.homes, 7u);
  EXPECT_EQ(f.zones, (std::vector<std::string>{"a.test", "b.test", "c.test"}));
  EXPECT_EQ(f.size, "64MiB");
  EXPECT_TRUE(f.json);
}

TEST(SettingsCli, ACommandLineFlagOverridesTheFile) {
  Flags f;
  ASSERT_OK(f.run({"--registration", "open"}, "registration = closed\nquota-homes = 9\n"));
  EXPECT_EQ(f.mode, "open");
  EXPECT_EQ(f.homes, 9u);
}

TEST(SettingsCli, BadEntriesNameFileLineAndKey) {
  EXPECT_ERR_WITH(Flags().run({}, "\nno-such = 1\n"), "t.conf:2: key no-such: unknown");
  EXPECT_ERR_WITH(Flags().run({}, "config = x\n"), "t.conf:1: key config: unknown");
  EXPECT_ERR_WITH(Flags().run({}, "help = 1\n"), "key help: unknown");
  EXPECT_ERR_WITH(Flags().run({}, "registration = shut\n"), "t.conf:1: key registration");
  EXPECT_ERR_WITH(Flags().run({}, "quota-homes = 1001\n"), "t.conf:1: key quota-homes");
  EXPECT_ERR_WITH(Flags().run({}, "quota-homes = x\n"), "t.conf:1: key quota-homes");
  EXPECT_ERR_WITH(Flags().run({}, "map-size = 1 GiB\n"), "t.conf:1: key map-size");
  EXPECT_ERR_WITH(Flags().run({}, "quota-homes = 1\nquota-homes = 2\n"),
                  "t.conf:2: key quota-homes: given twice (first on line 1)");
}

}  // namespace
}  // namespace cloudlink
