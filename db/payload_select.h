// Which parts of a payload a read returns (Qdrant's with_payload include /
// exclude, Milvus's output_fields): a PayloadSelector built from paths in
// db/json_path.h's syntax, applied to each payload a read returns.
//
//   include: the payload keeps only the values at these paths, with the
//     objects and arrays around them: {"a": {"b": 1, "c": 2}, "d": 3} with
//     include ["a.b"] gives {"a": {"b": 1}}. Arrays on the way are walked
//     element by element, as a filter's paths are ("a.b" and "a[].b" both
//     keep the b of every object element of an array a, in order); an
//     element, object or array that keeps nothing is left out. A payload
//     holding none of the paths gives {}.
//   exclude: the values at these paths are removed (through arrays the same
//     way); applied after include.
// A payload that is not a JSON object has no keys: include gives no
// payload, exclude leaves it whole. Kept values are copied byte for byte
// (numbers, strings and spacing as stored); the objects and arrays a
// selector opened are written compactly, their members in stored order.
// Arrays nested in arrays are walked kMaxArrayNesting deep (deeper ones
// hold no selected path), so a selector's work and stack depth are bounded
// by its paths, not by the payload.
//
// Thread-safety: immutable after Make; Apply may run concurrently.
#ifndef TQDB_DB_PAYLOAD_SELECT_H_
#define TQDB_DB_PAYLOAD_SELECT_H_

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tqdb {

// Paths a selector may hold (include and exclude together).
constexpr size_t kMaxSelectorPaths = 256;
constexpr size_t kMaxArrayNesting = 32;

class PayloadSelector {
 public:
  // Selects the whole payload.
  PayloadSelector();
  // Where the paths came from, as the errors name it: `lists` before
  // "include[i]" / "exclude[i]" ("payload_selector." gives
  // "payload_selector.include[1]: ..."), `whole` before an error of the
  // selector as a whole.
  struct Source {
    absl::string_view lists;
    absl::string_view whole;
  };
  // InvalidArgument naming the path ("include[1]: malformed path ...",
  // "exclude[0]: ... [N]" for an element index, which a selector does not
  // take), or more than kMaxSelectorPaths paths.
  static absl::StatusOr<PayloadSelector> Make(
      const std::vector<std::string>& include,
      const std::vector<std::string>& exclude, Source source = {});

  // True when Apply returns every payload as it is.
  bool selects_all() const {
    return include_ == nullptr && exclude_ == nullptr;
  }
  // The selected part of a payload ("" for none; "" stays "").
  std::string Apply(absl::string_view payload) const;

 private:
  // A trie of member names; `whole`: a path ends here (everything below is
  // selected).
  struct Node {
    bool whole = false;
    std::map<std::string, Node, std::less<>> children;
  };
  static absl::Status Insert(Node* root, const std::vector<std::string>& paths,
                             absl::string_view lists, absl::string_view which);
  // What node (not whole) selects of value v, to *out (false: nothing);
  // arrays: the arrays walked through on the way.
  static bool IncludeOf(absl::string_view v, const Node& node, size_t arrays,
                        std::string* out);
  // v without what node (not whole) reaches.
  static std::string ExcludeOf(absl::string_view v, const Node& node,
                               size_t arrays);
  std::shared_ptr<const Node> include_, exclude_;
};

}  // namespace tqdb

#endif  // TQDB_DB_PAYLOAD_SELECT_H_
