// A roaring bitmap of internal ids (a filter's matches, db/filter_eval.h)
// as the dense set a scan tests (index/allowed_set.h).
//
// Container by container, not id by id: a bitset container's 1,024 words
// are ORed in whole, a run container's runs set as ranges, only an array
// container's (at most 4,096) ids one at a time. Extracting ids one by one
// cost 6 ns an id (1 ms for 160k matches of 1M points, three quarters of
// evaluating the filter; tests/db/filter_benchmark).
//
// Thread-safety: a pure function of its arguments.
#ifndef TQDB_DB_ALLOWED_FROM_BITMAP_H_
#define TQDB_DB_ALLOWED_FROM_BITMAP_H_

#include <cstdint>

#include "index/allowed_set.h"
#include "roaring/roaring.hh"

namespace tqdb {
namespace dbimpl {

// The ids of `ids` below `universe`.
AllowedSet AllowedFromBitmap(const Roaring& ids, uint32_t universe);

}  // namespace dbimpl
}  // namespace tqdb

#endif  // TQDB_DB_ALLOWED_FROM_BITMAP_H_
