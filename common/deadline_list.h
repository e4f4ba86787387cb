// An intrusive FIFO of connection slots ordered by deadline. Every member of one list has the
// same timeout, so appending keeps it sorted and each operation is O(1): a waiting
// connection costs one list link, not a kernel timer or a thread. The dataplane's workers and
// control's HTTP loop each keep one list per timeout they enforce.
#pragma once

#include <cstdint>
#include <vector>

namespace cloudlink {

inline constexpr uint32_t kNoSlot = UINT32_MAX;

struct DeadlineLink {
  uint32_t prev = kNoSlot;
  uint32_t next = kNoSlot;
  int8_t list = -1;  // which DeadlineList holds it, -1: none
  int64_t deadline_ns = 0;
};

// Links live in the connections themselves; the list reaches them through `links`.
class DeadlineList {
 public:
  DeadlineList(int8_t id, std::vector<DeadlineLink>* links) : id_(id), links_(links) {}

  void push_back(uint32_t slot, int64_t deadline_ns) {
    DeadlineLink& l = (*links_)[slot];
    l = DeadlineLink{tail_, kNoSlot, id_, deadline_ns};
    if (tail_ != kNoSlot)
      (*links_)[tail_].next = slot;
    else
      head_ = slot;
    tail_ = slot;
  }
  void remove(uint32_t slot) {
    DeadlineLink& l = (*links_)[slot];
    if (l.list != id_) return;
    if (l.prev != kNoSlot)
      (*links_)[l.prev].next = l.next;
    else
      head_ = l.next;
    if (l.next != kNoSlot)
      (*links_)[l.next].prev = l.prev;
    else
      tail_ = l.prev;
    l = DeadlineLink{};
  }
  // The slot with the earliest deadline, or kNoSlot.
  uint32_t front() const { return head_; }
  int64_t front_deadline() const { return (*links_)[head_].deadline_ns; }
  bool empty() const { return head_ == kNoSlot; }

 private:
  int8_t id_;
  std::vector<DeadlineLink>* links_;
  uint32_t head_ = kNoSlot;
  uint32_t tail_ = kNoSlot;
};

}  // namespace cloudlink
