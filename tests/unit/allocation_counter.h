// Counts heap allocations made through operator new, to test that a hot-path function is
// allocation-free. The replacement operator new/delete live in allocation_counter.cpp: add that
// file to the SOURCES of a test that includes this header. (Defined out of line so GCC does not
// inline them into callers and misread malloc/free pairs as mismatched new/delete.)
#pragma once

#include <atomic>

namespace cloudlink::testing {

inline std::atomic<long> allocation_count{0};

// Allocations made while fn runs (on any thread, so keep tests single-threaded around it).
template <typename Fn>
long allocations_during(Fn&& fn) {
  long before = allocation_count.load();
  fn();
  return allocation_count.load() - before;
}

}  // namespace cloudlink::testing
