// Counts heap allocations made through operator new, to test that a hot-path function is
// allocation-free. Replaces the global operator new/delete: include it in exactly one source
// file of a test executable.
#pragma once

#include <atomic>
#include <cstdlib>
#include <new>

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

void* operator new(std::size_t size) {
  ++cloudlink::testing::allocation_count;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
