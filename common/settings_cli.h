// Feeds a settings file (common/settings_file.h) to a CLI11 command, so the file and the flags
// go through one parser, one set of checks and one set of variables. Call after the command
// line has been parsed: a key whose flag was given on the command line is skipped (the flag
// overrides the file); any other key is added as if given on the command line and checked by
// the option's own validators and conversion. An unknown key, a key given twice for an option
// that takes one value, and a bad value are one error "FILE:LINE: key NAME: why".
#pragma once

#include <CLI/CLI.hpp>

#include "common/result.h"
#include "common/settings_file.h"

namespace cloudlink {

Result<void> apply_settings(CLI::App& command, const SettingsFile& file);

// CLI11 validators for common/units.h, so a flag and a settings key refuse the same text.
CLI::Validator byte_size_validator();
CLI::Validator duration_validator();

}  // namespace cloudlink
