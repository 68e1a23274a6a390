#include "db/payload_match.h"

#include <algorithm>
#include <utility>

#include "db/datetime.h"
#include "db/field_values.h"
#include "db/text_words.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace {

bool InRange(double v, const Range& r) {
  if (r.gt && !(v > *r.gt)) return false;
  if (r.gte && !(v >= *r.gte)) return false;
  if (r.lt && !(v < *r.lt)) return false;
  if (r.lte && !(v <= *r.lte)) return false;
  return true;
}

}  // namespace

absl::StatusOr<ConditionMatcher> ConditionMatcher::Compile(const Condition& c) {
  ConditionMatcher m;
  m.kind_ = c.kind;
  m.value_type_ = c.value_type;
  TQ_ASSIGN_OR_RETURN(JsonPath p, JsonPath::Parse(c.key));
  m.path_ = std::make_shared<const JsonPath>(std::move(p));
  m.keyword_ = c.keyword;
  m.integer_ = c.integer;
  m.boolean_ = c.boolean;
  m.keywords_.insert(c.keywords.begin(), c.keywords.end());
  if (c.kind == Condition::Kind::kMatchText) m.words_ = c.keywords;
  m.integers_.insert(c.integers.begin(), c.integers.end());
  m.range_ = c.range;
  m.datetimes_ = c.datetimes;
  if (IsGeoCondition(c.kind)) m.geo_ = std::make_shared<const Condition>(c);
  m.values_count_ = c.values_count;
  if (c.kind == Condition::Kind::kAnyElement) {
    TQ_ASSIGN_OR_RETURN(PayloadMatcher elements,
                        PayloadMatcher::Compile(*c.filter));
    m.elements_ = std::make_shared<const PayloadMatcher>(std::move(elements));
  }
  return m;
}

bool ConditionMatcher::Holds(const nlohmann::json* payload) const {
  using Kind = Condition::Kind;
  using VT = Condition::ValueType;
  std::vector<const nlohmann::json*> found;
  if (payload != nullptr && payload->is_object()) {
    path_->Resolve(*payload, &found);
  }
  if (kind_ == Kind::kIsEmpty) return ValuesEmpty(found);
  if (kind_ == Kind::kIsNull) return ValuesNull(found);
  if (kind_ == Kind::kAnyElement) {
    for (const nlohmann::json* v : found) {
      if (!v->is_array()) continue;
      for (const nlohmann::json& e : *v) {
        if (e.is_object() && elements_->Matches(&e, 0)) return true;
      }
    }
    return false;
  }
  if (kind_ == Kind::kValuesCount) {
    uint64_t n = 0;
    for (const nlohmann::json* v : found) {
      n += v->is_null() ? 0 : v->is_array() ? v->size() : 1;
    }
    return values_count_.Holds(n);
  }
  if (kind_ == Kind::kMatchText || kind_ == Kind::kMatchTextAny) {
    // The words of all the strings found, together (as a text index
    // holds them).
    std::vector<std::string> words;
    ForEachScalar(found, [&](const nlohmann::json& v) {
      if (v.is_string()) {
        AppendTextWords(v.get_ref<const std::string&>(), &words);
      }
    });
    if (kind_ == Kind::kMatchTextAny) {
      return std::any_of(words.begin(), words.end(),
                         [&](const auto& w) { return keywords_.contains(w); });
    }
    if (words_.empty()) return false;
    std::sort(words.begin(), words.end());
    return std::includes(words.begin(), words.end(), words_.begin(),
                         words_.end());
  }
  bool hit = false;
  ForEachScalar(found, [&](const nlohmann::json& v) {
    if (hit) return;
    switch (kind_) {
      case Kind::kMatch:
        if (value_type_ == VT::kKeyword) {
          hit = v.is_string() && v.get_ref<const std::string&>() == keyword_;
        } else if (value_type_ == VT::kInteger) {
          int64_t i;
          hit = AsInt64(v, &i) && i == integer_;
        } else {
          hit = v.is_boolean() && v.get<bool>() == boolean_;
        }
        break;
      case Kind::kMatchAny:
      case Kind::kMatchExcept: {
        const bool any = kind_ == Kind::kMatchAny;
        if (value_type_ == VT::kInteger) {
          int64_t i;
          if (AsInt64(v, &i)) hit = integers_.contains(i) == any;
        } else if (v.is_string()) {
          hit = keywords_.contains(v.get_ref<const std::string&>()) == any;
        }
        break;
      }
      case Kind::kRange:
        hit = v.is_number() && InRange(v.get<double>(), range_);
        break;
      case Kind::kGeoRadius:
      case Kind::kGeoBox:
      case Kind::kGeoPolygon: {
        GeoPoint p;
        hit = ParseGeoPoint(v, &p) && InGeoShape(*geo_, p);
        break;
      }
      case Kind::kDatetimeRange:
        if (v.is_string()) {
          const std::optional<int64_t> t =
              ParseDatetime(v.get_ref<const std::string&>());
          hit = t && *t >= datetimes_.lo && *t <= datetimes_.hi;
        }
        break;
      default:
        break;
    }
  });
  return hit;
}

struct PayloadMatcher::Node {
  struct Leaf {
    Condition::Kind kind;
    std::optional<ConditionMatcher> field;
    absl::flat_hash_set<uint64_t> ids;
    std::shared_ptr<const Node> nested;
  };
  std::vector<Leaf> must, should, must_not;
  uint32_t min_should = 1;

  static absl::StatusOr<std::shared_ptr<const Node>> Build(const Filter& f);
  bool Matches(const nlohmann::json* payload, uint64_t id) const;
  static bool Holds(const Leaf& c, const nlohmann::json* payload, uint64_t id) {
    if (c.kind == Condition::Kind::kHasId) return c.ids.contains(id);
    if (c.kind == Condition::Kind::kFilter) {
      return c.nested->Matches(payload, id);
    }
    return c.field->Holds(payload);
  }
};

absl::StatusOr<std::shared_ptr<const PayloadMatcher::Node>>
PayloadMatcher::Node::Build(const Filter& f) {
  auto node = std::make_shared<Node>();
  node->min_should = std::max<uint32_t>(1, f.min_should);
  auto add = [](const std::vector<Condition>& in,
                std::vector<Leaf>* out) -> absl::Status {
    for (const Condition& c : in) {
      Leaf l;
      l.kind = c.kind;
      if (c.kind == Condition::Kind::kHasId) {
        l.ids.insert(c.ids.begin(), c.ids.end());
      } else if (c.kind == Condition::Kind::kFilter) {
        TQ_ASSIGN_OR_RETURN(l.nested, Build(*c.filter));
      } else {
        TQ_ASSIGN_OR_RETURN(ConditionMatcher m, ConditionMatcher::Compile(c));
        l.field = std::move(m);
      }
      out->push_back(std::move(l));
    }
    return absl::OkStatus();
  };
  TQ_RETURN_IF_ERROR(add(f.must, &node->must)) << "must";
  TQ_RETURN_IF_ERROR(add(f.should, &node->should)) << "should";
  TQ_RETURN_IF_ERROR(add(f.must_not, &node->must_not)) << "must_not";
  return std::shared_ptr<const Node>(std::move(node));
}

bool PayloadMatcher::Node::Matches(const nlohmann::json* payload,
                                   uint64_t id) const {
  for (const Leaf& c : must) {
    if (!Holds(c, payload, id)) return false;
  }
  for (const Leaf& c : must_not) {
    if (Holds(c, payload, id)) return false;
  }
  if (should.empty()) return true;
  uint32_t n = 0;
  for (const Leaf& c : should) {
    if (Holds(c, payload, id) && ++n >= min_should) return true;
  }
  return false;
}

absl::StatusOr<PayloadMatcher> PayloadMatcher::Compile(const Filter& filter) {
  PayloadMatcher m;
  TQ_ASSIGN_OR_RETURN(m.root_, Node::Build(filter));
  return m;
}

bool PayloadMatcher::Matches(const nlohmann::json* payload, uint64_t id) const {
  return root_->Matches(payload, id);
}

}  // namespace tqdb
