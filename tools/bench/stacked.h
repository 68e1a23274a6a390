// The scale regime of `tqdb bench --stack C`: a base C times the size of a
// real one, built from it so that its neighbourhoods stay real.
//
// Copy 0 is the base itself; copy c >= 1 is every base vector rotated by
// R_c, a seeded randomized Hadamard rotation (quant/rotation.h). A rotation
// keeps every inner product and distance inside a copy, so each copy holds
// the real data's neighbourhoods, while the copies point in unrelated
// directions (each its own region of the space, as the topics of a larger
// corpus would). Query i is rotated by R_(i mod C): its true neighbours lie
// in copy i mod C, spread evenly over the copies, and the other copies are
// real distractors for the coarse step and for the scan. Ground truth is
// computed exactly over the whole stacked base (an .ivecs file of the
// original base cannot serve it).
//
// Row r of copy c is stacked row c * n + r.
//
// Thread-compatible: a plain function.
#ifndef TQDB_TOOLS_BENCH_STACKED_H_
#define TQDB_TOOLS_BENCH_STACKED_H_

#include <cstdint>

#include "absl/status/status.h"
#include "tools/io/matrix.h"

namespace tqdb {

// The largest C accepted (a guard against a typo's terabytes, not a limit
// of the method).
constexpr uint32_t kMaxStackCopies = 1024;

// Replaces *base with C stacked copies and rotates *queries in place, as
// above; copies = 1 leaves both unchanged. InvalidArgument if copies is 0
// or above kMaxStackCopies, the dimension is below 2, or base * copies
// rows would not fit in 2^31 (ids of the ground truth are int32).
absl::Status StackRotatedCopies(uint32_t copies, uint64_t seed,
                                FloatMatrix* base, FloatMatrix* queries);

}  // namespace tqdb

#endif  // TQDB_TOOLS_BENCH_STACKED_H_
