// A key of a filter condition or a payload index: a dotted path into a JSON
// payload, in Qdrant's syntax.
//
//   path  := step ('.' step)*
//   step  := name ('[]' | '[' digits ']')*
//   name  := one or more characters other than . [ ] " and control
//            characters, or "..." (any characters but " and control ones)
//
// "a.b" is member b of member a; "a[].b" member b of every element of array
// a; "a[2].b" of its third element. Arrays met where the path expects an
// object are searched element by element ("a.b" also reaches the b of every
// element of an array a), so a path written without [] still finds values
// inside arrays of objects.
//
// Thread-safety: immutable after Parse; Resolve may run concurrently.
#ifndef TQDB_DB_JSON_PATH_H_
#define TQDB_DB_JSON_PATH_H_

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tqdb {

// Longest path accepted, in bytes.
constexpr size_t kMaxPathBytes = 1024;

class JsonPath {
 public:
  // InvalidArgument "malformed path '<text>': <why>" (empty, empty step,
  // unbalanced or bad brackets, a quote or control character in a name,
  // over kMaxPathBytes).
  static absl::StatusOr<JsonPath> Parse(absl::string_view text);

  const std::string& text() const { return text_; }
  // The member names of each step, for a path without brackets (empty if
  // it has some): what a payload edit walks.
  std::vector<std::string> Members() const;
  // The member names of the steps when every bracket is [] (the walk
  // through arrays any step takes): {a, b} for "a[].b" and "a.b"; empty if
  // a step has an [N].
  std::vector<std::string> MembersThroughArrays() const;
  // The member the path starts at (the payload's top-level key it reads).
  const std::string& first_member() const { return steps_.front().name; }

  // Appends the values the path reaches in `doc` (arrays at the end are not
  // flattened: the caller decides, e.g. is_empty tells [] apart). Nothing
  // when the path is absent.
  void Resolve(const nlohmann::json& doc,
               std::vector<const nlohmann::json*>* out) const;

 private:
  struct Step {
    std::string name;
    std::vector<int64_t> index;  // per bracket: -1 for [], else N of [N]
  };
  void Walk(const nlohmann::json& v, size_t step, size_t bracket,
            std::vector<const nlohmann::json*>* out) const;

  std::string text_;
  std::vector<Step> steps_;
};

// Calls f(scalar) for every non-array value among `values`, arrays
// flattened at any depth.
template <typename F>
void ForEachScalar(const std::vector<const nlohmann::json*>& values, F&& f) {
  std::vector<const nlohmann::json*> stack(values.rbegin(), values.rend());
  while (!stack.empty()) {
    const nlohmann::json* v = stack.back();
    stack.pop_back();
    if (v->is_array()) {
      for (auto it = v->rbegin(); it != v->rend(); ++it) stack.push_back(&*it);
    } else {
      f(*v);
    }
  }
}

// "null", "a bool", "an integer", "a number", "a string", "an array" or
// "an object": what v is, for errors ("expected a number, got a string").
const char* JsonTypeName(const nlohmann::json& v);

// The JSON integer v holds as an int64 (false for floats, other types and
// unsigned values above INT64_MAX).
bool AsInt64(const nlohmann::json& v, int64_t* out);

}  // namespace tqdb

#endif  // TQDB_DB_JSON_PATH_H_
