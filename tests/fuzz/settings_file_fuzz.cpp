// The settings file reader (common/settings_file.h) and the units its values use: any bytes
// give entries within the stated bounds or one error, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/settings_file.h"
#include "common/units.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto file = cloudlink::parse_settings(text, "fuzz.conf");
  if (file) {
    if (file->entries.size() > cloudlink::SettingsFile::kMaxEntries) std::abort();
    for (const auto& entry : file->entries) {
      if (entry.name.empty() || entry.name.size() > cloudlink::SettingsFile::kMaxNameBytes) {
        std::abort();
      }
      if (entry.value.size() > cloudlink::SettingsFile::kMaxLineBytes) std::abort();
      (void)cloudlink::parse_byte_size(entry.value);
      (void)cloudlink::parse_duration_seconds(entry.value);
    }
  }
  (void)cloudlink::parse_byte_size(text.substr(0, 64));
  (void)cloudlink::parse_duration_seconds(text.substr(0, 64));
  return 0;
}
