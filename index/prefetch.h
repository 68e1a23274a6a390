// Software prefetch of a byte range: for reads whose addresses are known
// ahead but lie anywhere in memory (a candidate's row or code, a raw vector
// by id), where the hardware prefetcher cannot guess them. Started a few
// items ahead of use, the misses overlap instead of following each other.
#ifndef TQDB_INDEX_PREFETCH_H_
#define TQDB_INDEX_PREFETCH_H_

#include <cstddef>
#include <cstdint>

namespace tqdb {

// Starts loading the cache lines of [p, p + bytes) (read, all cache levels).
inline void PrefetchBytes(const void* p, size_t bytes) {
  // Line by line from the line holding p: stepping from p itself would
  // leave out the last line whenever p is not line-aligned.
  constexpr uintptr_t kLine = 64;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(p);
  const uintptr_t end = begin + bytes;
  for (uintptr_t at = begin & ~(kLine - 1); at < end; at += kLine) {
    __builtin_prefetch(reinterpret_cast<const void*>(at));
    // A prefetch has no side effect the compiler must keep, and C++ loops
    // are assumed to finish (-ffinite-loops): GCC 12 at -O2 deleted loops
    // that only prefetched (ListScanner::RefineRound's, once its candidates
    // named their list by index). The empty volatile asm keeps the loop; it
    // emits nothing.
    asm volatile("");
  }
}

}  // namespace tqdb

#endif  // TQDB_INDEX_PREFETCH_H_
