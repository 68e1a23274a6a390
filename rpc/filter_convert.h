// tqdb.v1.Filter <-> db's Filter (db/filter.h), both directions, and the
// payload index types, beside rpc/convert.h (as Qdrant's conversions.rs).
// The proto mirrors the JSON syntax (db/filter_json.h), so a filter's
// places are named the same way in both: "must[2].match.value".
//
// Errors: InvalidArgument naming the place for what only the proto can get
// wrong (a condition with nothing set, a match without a value, a list with
// both keywords and integers, a field condition with both or neither of
// match and range, an unspecified index type). The rules every filter must
// meet are the database's (db/query.h). Thread-safe (pure functions).
#ifndef TQDB_RPC_FILTER_CONVERT_H_
#define TQDB_RPC_FILTER_CONVERT_H_

#include <memory>

#include "absl/status/statusor.h"
#include "db/filter.h"
#include "tqdb/v1/collections.pb.h"
#include "tqdb/v1/points.pb.h"

namespace tqdb {

absl::StatusOr<Filter> FromProto(const v1::Filter& in);
void ToProto(const Filter& in, v1::Filter* out);

// A request's optional filter: nullptr when absent or empty (an empty
// filter matches every point: no filter).
absl::StatusOr<std::shared_ptr<const Filter>> OptionalFilter(
    bool has, const v1::Filter& in);

absl::StatusOr<FieldType> FieldTypeFromProto(v1::FieldType t);
v1::FieldType FieldTypeToProto(FieldType t);

}  // namespace tqdb

#endif  // TQDB_RPC_FILTER_CONVERT_H_
