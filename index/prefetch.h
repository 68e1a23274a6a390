// Software prefetch of a byte range: for reads whose addresses are known
// ahead but lie anywhere in memory (a candidate's row or code, a raw vector
// by id), where the hardware prefetcher cannot guess them. Started a few
// items ahead of use, the misses overlap instead of following each other.
#ifndef TQDB_INDEX_PREFETCH_H_
#define TQDB_INDEX_PREFETCH_H_

#include <cstddef>

namespace tqdb {

// Starts loading the cache lines of [p, p + bytes) (read, all cache levels).
inline void PrefetchBytes(const void* p, size_t bytes) {
  constexpr size_t kLine = 64;
  const char* c = static_cast<const char*>(p);
  for (size_t at = 0; at < bytes; at += kLine) __builtin_prefetch(c + at);
}

}  // namespace tqdb

#endif  // TQDB_INDEX_PREFETCH_H_
