// cloudlink.yaml on arbitrary bytes: the parser returns a value or one error, never crashes;
// whatever it accepts, the writer's text reads back to the same model.
#include <cstdlib>
#include <string_view>

#include "home-agent/config/agent_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto config = cloudlink::home::parse_agent_config(in, "fuzz.yaml");
  if (!config.ok()) {
    if (config.error().message().rfind("fuzz.yaml", 0) != 0) std::abort();
    return 0;
  }
  auto again = cloudlink::home::parse_agent_config(cloudlink::home::format_agent_config(*config),
                                                   "again.yaml");
  if (!again.ok() || !(*again == *config)) std::abort();
  return 0;
}
