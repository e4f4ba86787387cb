// Files the ACME client keeps: read bounded, written atomically (temporary file in the same
// directory, fsync, rename), so a crash leaves the old file or the new one, never half of one.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/result.h"

namespace cloudlink::acme {

// The whole file, when it is at most max_bytes (an error naming the path otherwise).
Result<std::string> read_small_file(const std::string& path, size_t max_bytes = 1 << 20);

// Replaces path with content, mode 0600 (keys) or as given.
Result<void> write_secret_file(const std::string& path, std::string_view content,
                               mode_t mode = 0600);

}  // namespace cloudlink::acme
