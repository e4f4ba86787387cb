#include <cstdio>

#include "common/log.h"
#include "home-agent/commands/commands.h"
#include "home-agent/keys/keygen.h"

namespace cloudlink::home {

int keygen_command(const KeygenOptions& options) {
  auto line = generate_key_pair(options.output, options.force, options.comment);
  if (!line.ok()) {
    log_error("keygen: %s", line.error().message().c_str());
    return kExitFailure;
  }
  std::printf("%s\n", line->c_str());
  return kExitOk;
}

}  // namespace cloudlink::home
