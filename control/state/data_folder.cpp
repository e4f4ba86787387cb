#include "control/state/data_folder.h"

#include <filesystem>

#include "control/state/errors.h"

namespace cloudlink::state {

bool data_folder_initialised(const std::string& data_dir) {
  std::error_code ec;
  return std::filesystem::is_regular_file(data_dir + "/state/data.mdb", ec);
}

Error data_folder_not_initialised(const std::string& data_dir) {
  std::string flag = data_dir == kDefaultDataDir ? "" : " --data " + data_dir;
  return state_error(StateErrc::kInvalid,
                     "data folder " + data_dir +
                         " was never initialised (no state/data.mdb); run `cloudlink-control "
                         "init" +
                         flag + " ...` first, or name the right folder with --data");
}

Result<void> require_initialised(const std::string& data_dir) {
  if (data_folder_initialised(data_dir)) return ok();
  return data_folder_not_initialised(data_dir);
}

}  // namespace cloudlink::state
