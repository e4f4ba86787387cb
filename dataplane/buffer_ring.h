// A provided-buffer ring (io_uring buffer group): the kernel picks a buffer only when data
// arrives, so a connection waiting in recv holds no memory. Owns the ring and the buffers.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>

#include "common/result.h"

namespace cloudlink::dataplane {

class BufferRing {
 public:
  // entries must be a power of two. Registers group `group_id` with `ring`.
  static Result<BufferRing> create(io_uring* ring, uint16_t group_id, uint32_t entries,
                                   uint32_t buffer_size);
  BufferRing(BufferRing&& other) noexcept;
  BufferRing& operator=(BufferRing&&) = delete;
  BufferRing(const BufferRing&) = delete;
  ~BufferRing();

  uint16_t group_id() const { return group_id_; }
  uint32_t buffer_size() const { return buffer_size_; }
  uint8_t* data(uint16_t buffer_id) { return base_ + size_t{buffer_id} * buffer_size_; }
  // Hands a buffer back to the kernel for the next recv.
  void recycle(uint16_t buffer_id);
  // Buffers currently lent out (held by connections); for back-pressure accounting.
  uint32_t in_use() const { return in_use_; }
  void note_taken() { ++in_use_; }

 private:
  BufferRing() = default;
  io_uring* ring_ = nullptr;
  io_uring_buf_ring* br_ = nullptr;
  size_t ring_bytes_ = 0;
  uint8_t* base_ = nullptr;
  size_t buffers_bytes_ = 0;
  uint32_t entries_ = 0;
  uint32_t buffer_size_ = 0;
  uint32_t in_use_ = 0;
  uint16_t group_id_ = 0;
};

}  // namespace cloudlink::dataplane
