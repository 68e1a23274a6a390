// A filter evaluated on one point's payload and id: the reference semantics
// of db/filter.h, used for conditions on fields without a payload index
// (db/filter_eval.h reads those points' payloads) and by tests as the
// oracle of the indexed evaluation.
//
// Thread-safety: immutable after Compile; Matches may run concurrently.
#ifndef TQDB_DB_PAYLOAD_MATCH_H_
#define TQDB_DB_PAYLOAD_MATCH_H_

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "db/filter.h"
#include "db/json_path.h"

namespace tqdb {

class PayloadMatcher;

// One field condition (match, any, except, text, text_any, range, range of
// datetimes, geo shapes, values_count, nested, is_empty, is_null) on a
// payload.
class ConditionMatcher {
 public:
  // REQUIRES: c is a field condition. InvalidArgument for a malformed key.
  static absl::StatusOr<ConditionMatcher> Compile(const Condition& c);
  bool Holds(const nlohmann::json* payload) const;
  const std::string& key() const { return path_->text(); }

 private:
  Condition::Kind kind_ = Condition::Kind::kMatch;
  Condition::ValueType value_type_ = Condition::ValueType::kKeyword;
  std::shared_ptr<const JsonPath> path_;
  std::string keyword_;
  int64_t integer_ = 0;
  bool boolean_ = false;
  absl::flat_hash_set<std::string> keywords_;
  std::vector<std::string> words_;  // kMatchText: the text's, sorted
  absl::flat_hash_set<int64_t> integers_;
  Range range_;
  DatetimeRange datetimes_;
  std::shared_ptr<const Condition> geo_;  // kGeo*: the condition
  CountRange values_count_;
  std::shared_ptr<const PayloadMatcher> elements_;  // kAnyElement
};

class PayloadMatcher {
 public:
  // InvalidArgument for a malformed path (a filter that passed
  // db/query.h's CheckFilter has none).
  static absl::StatusOr<PayloadMatcher> Compile(const Filter& filter);

  // payload: the parsed payload, or nullptr when the point has none or it
  // is not JSON (then no field condition holds).
  bool Matches(const nlohmann::json* payload, uint64_t id) const;

 private:
  struct Node;
  std::shared_ptr<const Node> root_;
};

}  // namespace tqdb

#endif  // TQDB_DB_PAYLOAD_MATCH_H_
