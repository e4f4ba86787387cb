// The backup archive reader (control/backup/backup_archive.h), which restore runs on a file an
// operator may have fetched from anywhere: any bytes give a manifest whose every member arrived
// whole, or one error, never a crash; and a member is never finished with other than its
// declared number of bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "control/backup/backup_archive.h"

namespace {

using cloudlink::Result;
using cloudlink::control::backup::ManifestMember;

class CountingSink : public cloudlink::control::backup::MemberSink {
 public:
  Result<void> begin(const ManifestMember& member) override {
    expected_ = member.bytes;
    got_ = 0;
    return cloudlink::ok();
  }
  Result<void> write(std::string_view chunk) override {
    got_ += chunk.size();
    if (got_ > expected_) std::abort();
    return cloudlink::ok();
  }
  Result<void> finish() override {
    if (got_ != expected_) std::abort();
    ++finished;
    return cloudlink::ok();
  }
  size_t finished = 0;

 private:
  uint64_t expected_ = 0;
  uint64_t got_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  CountingSink sink;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto manifest = cloudlink::control::backup::read_archive_memory(bytes, sink);
  if (manifest && sink.finished != manifest->members.size()) std::abort();
  // The manifest parser alone, on the same bytes.
  (void)cloudlink::control::backup::parse_manifest(bytes);
  return 0;
}
