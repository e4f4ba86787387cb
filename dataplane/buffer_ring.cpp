#include "dataplane/buffer_ring.h"

#include <sys/mman.h>

#include <cstring>
#include <utility>

namespace cloudlink::dataplane {

Result<BufferRing> BufferRing::create(io_uring* ring, uint16_t group_id, uint32_t entries,
                                      uint32_t buffer_size) {
  BufferRing b;
  b.group_id_ = group_id;
  b.entries_ = entries;
  b.buffer_size_ = buffer_size;
  b.ring_bytes_ = sizeof(io_uring_buf) * entries;
  void* r =
      ::mmap(nullptr, b.ring_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (r == MAP_FAILED) return errno_error("mmap buffer ring");
  b.br_ = static_cast<io_uring_buf_ring*>(r);
  // Anonymous memory is only backed once touched, so a large pool costs what is used.
  b.buffers_bytes_ = size_t{entries} * buffer_size;
  void* m =
      ::mmap(nullptr, b.buffers_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return errno_error("mmap relay buffers");
  b.base_ = static_cast<uint8_t*>(m);

  io_uring_buf_reg reg;
  std::memset(&reg, 0, sizeof reg);
  reg.ring_addr = reinterpret_cast<uint64_t>(b.br_);
  reg.ring_entries = entries;
  reg.bgid = group_id;
  if (int rc = io_uring_register_buf_ring(ring, &reg, 0); rc != 0) {
    return Error(-rc, "io_uring_register_buf_ring (kernel 5.19+ needed)");
  }
  b.ring_ = ring;  // registered: from here the destructor unregisters
  io_uring_buf_ring_init(b.br_);
  const int mask = io_uring_buf_ring_mask(entries);
  for (uint32_t i = 0; i < entries; ++i) {
    io_uring_buf_ring_add(b.br_, b.data(static_cast<uint16_t>(i)), buffer_size,
                          static_cast<uint16_t>(i), mask, static_cast<int>(i));
  }
  io_uring_buf_ring_advance(b.br_, static_cast<int>(entries));
  return b;
}

BufferRing::BufferRing(BufferRing&& o) noexcept
    : ring_(std::exchange(o.ring_, nullptr)),
      br_(std::exchange(o.br_, nullptr)),
      ring_bytes_(o.ring_bytes_),
      base_(std::exchange(o.base_, nullptr)),
      buffers_bytes_(o.buffers_bytes_),
      entries_(o.entries_),
      buffer_size_(o.buffer_size_),
      in_use_(o.in_use_),
      group_id_(o.group_id_) {}

BufferRing::~BufferRing() {
  if (ring_ != nullptr) io_uring_unregister_buf_ring(ring_, group_id_);
  if (br_ != nullptr) ::munmap(br_, ring_bytes_);
  if (base_ != nullptr) ::munmap(base_, buffers_bytes_);
}

void BufferRing::recycle(uint16_t buffer_id) {
  io_uring_buf_ring_add(br_, data(buffer_id), buffer_size_, buffer_id,
                        io_uring_buf_ring_mask(entries_), 0);
  io_uring_buf_ring_advance(br_, 1);
  --in_use_;
}

}  // namespace cloudlink::dataplane
