// tqdb bench --filter: filtered search measured through the database (the
// path a server runs: payload indexes, filter evaluation, the planner, the
// filtered IVF scan, rescoring from RocksDB), one thread, on a real data set
// with payloads:
//  - two kinds of filters per selectivity: correlated with the vectors (a
//    set of values of a payload field, e.g. Debian sections: their points
//    sit in a few IVF lists) and uncorrelated (a range on a synthetic field
//    drawn uniformly per point);
//  - filtered 10-recall@10 against the exact search over the matching rows,
//    the share of searches that returned min(k, matches) results, QPS, the
//    plans taken; the unfiltered search at the same settings;
//  - ingest rate with three payload indexes against none, and the memory of
//    each index per point.
#ifndef TQDB_TOOLS_BENCH_FILTER_BENCH_H_
#define TQDB_TOOLS_BENCH_FILTER_BENCH_H_

#include <ostream>
#include <string>
#include <vector>

#include "tools/cli/flags.h"

namespace tqdb {

// Whether the arguments ask for the filtered benchmark (--filter before
// "--").
bool WantsFilterBench(const std::vector<std::string>& args);

int RunFilterBench(const std::vector<std::string>& args, std::ostream& out,
                   std::ostream& err);

const FlagSpec& FilterBenchFlags();

}  // namespace tqdb

#endif  // TQDB_TOOLS_BENCH_FILTER_BENCH_H_
