// Small files read with a size bound and replaced atomically: a temporary file in the same
// folder, fsync, rename, fsync of the folder, so a crash leaves the old file or the new one.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/result.h"

namespace cloudlink::home {

// The whole file if it holds at most max_bytes; errors name the path.
Result<std::string> read_bounded_file(const std::string& path, size_t max_bytes);

// Replaces path with content, created with mode (0600 by default: keys, tokens).
Result<void> write_file_atomically(const std::string& path, std::string_view content,
                                   mode_t mode = 0600);

}  // namespace cloudlink::home
