// The chart colour of each method family, the same in bench's charts and in
// the recall report's.
#ifndef TQDB_TOOLS_BENCH_COLORS_H_
#define TQDB_TOOLS_BENCH_COLORS_H_

#include <cstddef>
#include <string>

namespace tqdb {

// "#rrggbb" of a method family ("renorm", "faiss-ivfpq", ...); unknown
// families get a spare colour by `index`.
std::string FamilyColor(const std::string& family, size_t index);

}  // namespace tqdb

#endif  // TQDB_TOOLS_BENCH_COLORS_H_
