// What `tqdb bench` writes: the table on stdout, one JSON line a
// configuration, and the SVG charts (recall against queries per second, and
// recall@1@k).
#ifndef TQDB_TOOLS_BENCH_BENCH_OUTPUT_H_
#define TQDB_TOOLS_BENCH_BENCH_OUTPUT_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "tools/bench/bench_sweep.h"

namespace tqdb {

// The table's header line.
void PrintHeader(std::ostream& out);
// The table's line of `r` (and, for a flat index, its scan rate).
void PrintRow(std::ostream& out, const BenchSetup& s, const BenchRow& r);

// `r` as one JSON object (with the setup), newline-terminated.
std::string JsonLine(const BenchSetup& s, const BenchRow& r);

// The SVG document of the charts of `rows`, indexes of `nlist` lists.
std::string BenchSvg(const BenchSetup& s, uint32_t nlist,
                     const std::vector<BenchRow>& rows);

}  // namespace tqdb

#endif  // TQDB_TOOLS_BENCH_BENCH_OUTPUT_H_
