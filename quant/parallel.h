// Small helpers shared by the quant/ implementation files. Not API.
#ifndef TQDB_QUANT_PARALLEL_H_
#define TQDB_QUANT_PARALLEL_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

namespace tqdb {
namespace quant_internal {

// Runs fn(begin, end) over [0, n) split into contiguous chunks, one per
// thread (the calling thread takes the first chunk).
template <class Fn>
inline void ParallelRanges(size_t n, uint32_t num_threads,
                           size_t min_per_thread, const Fn& fn) {
  size_t t = std::max<uint32_t>(1, num_threads);
  t = std::min(t, std::max<size_t>(1, n / std::max<size_t>(1, min_per_thread)));
  if (t <= 1) {
    fn(size_t{0}, n);
    return;
  }
  std::vector<std::thread> threads;
  threads.reserve(t - 1);
  const size_t chunk = n / t, extra = n % t;
  size_t begin = 0;
  size_t first_end = 0;
  for (size_t i = 0; i < t; ++i) {
    const size_t end = begin + chunk + (i < extra ? 1 : 0);
    if (i == 0) {
      first_end = end;
    } else {
      threads.emplace_back([&fn, begin, end] { fn(begin, end); });
    }
    begin = end;
  }
  fn(size_t{0}, first_end);
  for (std::thread& th : threads) th.join();
}

inline const char* NonFiniteName(float v) {
  if (std::isnan(v)) return "NaN";
  return v > 0 ? "+inf" : "-inf";
}

}  // namespace quant_internal
}  // namespace tqdb

#endif  // TQDB_QUANT_PARALLEL_H_
