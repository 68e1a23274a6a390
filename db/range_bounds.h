// The inclusive bounds a Range (gt / gte / lt / lte, doubles) allows over
// integers and over doubles: what payload indexes look up, and check
// values against.
//
// Thread-safe: pure functions.
#ifndef TQDB_DB_RANGE_BOUNDS_H_
#define TQDB_DB_RANGE_BOUNDS_H_

#include <cstdint>

#include "db/filter.h"

namespace tqdb {
namespace dbimpl {

// [lo, hi] (lo > hi: none); bounds beyond int64 clamp or empty it.
void IntegerBounds(const Range& r, int64_t* lo, int64_t* hi);
// [lo, hi] of doubles (strict bounds moved to the next double inwards).
void FloatBounds(const Range& r, double* lo, double* hi);

}  // namespace dbimpl
}  // namespace tqdb

#endif  // TQDB_DB_RANGE_BOUNDS_H_
