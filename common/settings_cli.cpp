#include "common/settings_cli.h"

#include <map>

#include "common/units.h"

namespace cloudlink {

Result<void> apply_settings(CLI::App& command, const SettingsFile& file) {
  std::map<CLI::Option*, size_t> first_line;
  for (const SettingsEntry& entry : file.entries) {
    auto where = [&](const std::string& why) {
      return invalid(file.path + ":" + std::to_string(entry.line) + ": key " + entry.name + ": " +
                     why);
    };
    CLI::Option* option = command.get_option_no_throw("--" + entry.name);
    if (option == nullptr || entry.name == "config" || entry.name == "help") {
      return where("unknown (not a setting of " + command.get_name() + ")");
    }
    auto seen = first_line.find(option);
    if (seen == first_line.end()) {
      // Given on the command line: the flag wins, every line of this key is skipped.
      if (option->count() > 0) continue;
      first_line.emplace(option, entry.line);
    } else if (option->get_items_expected_max() <= 1) {
      return where("given twice (first on line " + std::to_string(seen->second) + ")");
    }
    try {
      option->add_result(entry.value);
      option->run_callback();
    } catch (const CLI::Error& e) {
      return where(e.what());
    }
  }
  return ok();
}

CLI::Validator byte_size_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        auto size = parse_byte_size(text);
        return size ? std::string() : size.error().context();
      },
      "SIZE");
}

CLI::Validator duration_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        auto seconds = parse_duration_seconds(text);
        return seconds ? std::string() : seconds.error().context();
      },
      "DURATION");
}

}  // namespace cloudlink
