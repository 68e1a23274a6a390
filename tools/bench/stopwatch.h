// Wall-clock seconds for the benchmarks' timings.
#ifndef TQDB_TOOLS_BENCH_STOPWATCH_H_
#define TQDB_TOOLS_BENCH_STOPWATCH_H_

#include <chrono>

namespace tqdb {

// Seconds since t0 (steady clock).
inline double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
      .count();
}

}  // namespace tqdb

#endif  // TQDB_TOOLS_BENCH_STOPWATCH_H_
