#include "db/range_bounds.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tqdb {
namespace dbimpl {

void IntegerBounds(const Range& r, int64_t* lo, int64_t* hi) {
  // 2^63 as a double; doubles at or above it exceed every int64.
  constexpr double kTwo63 = 9223372036854775808.0;
  *lo = std::numeric_limits<int64_t>::min();
  *hi = std::numeric_limits<int64_t>::max();
  auto raise = [&](double v) {  // values >= v
    if (v > -kTwo63) {
      if (v >= kTwo63) {
        *lo = std::numeric_limits<int64_t>::max();
        *hi = std::numeric_limits<int64_t>::min();  // empty
        return;
      }
      *lo = std::max(*lo, static_cast<int64_t>(std::ceil(v)));
    }
  };
  auto lower = [&](double v) {  // values <= v
    if (v < kTwo63) {
      if (v < -kTwo63) {
        *lo = std::numeric_limits<int64_t>::max();
        *hi = std::numeric_limits<int64_t>::min();
        return;
      }
      *hi = std::min(*hi, static_cast<int64_t>(std::floor(v)));
    }
  };
  if (r.gte) raise(*r.gte);
  if (r.gt) {
    const double f = std::floor(*r.gt);
    // v > gt: v >= floor(gt) + 1.
    if (f + 1 >= kTwo63) {
      *lo = std::numeric_limits<int64_t>::max();
      *hi = std::numeric_limits<int64_t>::min();
    } else {
      raise(f + 1);
    }
  }
  if (r.lte) lower(*r.lte);
  if (r.lt) {
    const double c = std::ceil(*r.lt);
    if (c - 1 < -kTwo63) {
      *lo = std::numeric_limits<int64_t>::max();
      *hi = std::numeric_limits<int64_t>::min();
    } else {
      lower(c - 1);
    }
  }
}

void FloatBounds(const Range& r, double* lo, double* hi) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  *lo = -kInf;
  *hi = kInf;
  if (r.gte) *lo = std::max(*lo, *r.gte);
  if (r.gt) *lo = std::max(*lo, std::nextafter(*r.gt, kInf));
  if (r.lte) *hi = std::min(*hi, *r.lte);
  if (r.lt) *hi = std::min(*hi, std::nextafter(*r.lt, -kInf));
}

}  // namespace dbimpl
}  // namespace tqdb
