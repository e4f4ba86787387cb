// The data folder of a VPS (/var/lib/cloudlink by default): state/ (control's LMDB), routes/
// (the dataplane's), acme/, tls/. Only `cloudlink-control init` makes one; every other command
// refuses a folder that init never made, so a mistyped or forgotten --data is an error that
// says what to do instead of a new, empty database that answers nothing.
#pragma once

#include <string>

#include "common/result.h"

namespace cloudlink::state {

inline constexpr const char* kDefaultDataDir = "/var/lib/cloudlink";

// True once DATA/state holds its LMDB file (init made it, or control ran there before init
// existed: such a folder is initialised too).
bool data_folder_initialised(const std::string& data_dir);

// The refusal for a folder that is not: an invalid (state category) error whose context() says
// which folder and how to initialise it.
Error data_folder_not_initialised(const std::string& data_dir);

// ok() when initialised, else data_folder_not_initialised().
Result<void> require_initialised(const std::string& data_dir);

}  // namespace cloudlink::state
