#include "db/filter_eval.h"

#include <algorithm>
#include <numeric>
#include <optional>
#include <set>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "db/payload_match.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace dbimpl {

struct FilterResult::Node {
  struct Child {
    const Condition* cond = nullptr;
    const FieldIndex* index = nullptr;  // phase 1 only
    FieldIndex::Prepared prepared;      // for Check
    std::optional<ConditionMatcher> matcher;
    std::unique_ptr<Node> nested;
    absl::flat_hash_set<uint32_t> id_set;  // has_id, internal ids
    uint64_t estimate = 0;
    bool payload = false;  // needs payloads (itself or below)
    Roaring bits;          // phase 1's result, for phase 2
  };
  std::vector<Child> must, should, must_not;
  uint32_t min_should = 1;
  bool payload = false;
  uint64_t estimate = 0;  // of the whole node

  static absl::StatusOr<std::unique_ptr<Node>> Build(
      const Filter& f, const IndexView& view, std::set<std::string>* unindexed);
  static bool Checkable(const Child& c) {
    return c.index != nullptr || c.cond->kind == Condition::Kind::kHasId;
  }
  static bool Check(const Child& c, uint32_t iid) {
    if (c.index != nullptr) return c.index->Check(iid, c.prepared);
    return c.id_set.contains(iid);
  }
  static Roaring Bits(const Child& c, const IndexView& view);
  static Roaring Keep(const Roaring& r, const Child& c, bool want);
  Roaring Exact(const IndexView& view) const;
  Roaring Superset(const IndexView& view);
  bool Decide(uint32_t iid, const nlohmann::json* payload) const;
};

absl::StatusOr<std::unique_ptr<FilterResult::Node>> FilterResult::Node::Build(
    const Filter& f, const IndexView& view, std::set<std::string>* unindexed) {
  auto node = std::make_unique<Node>();
  node->min_should = std::max<uint32_t>(1, f.min_should);
  const uint64_t live = view.live->cardinality();
  auto add = [&](const std::vector<Condition>& in,
                 std::vector<Child>* out) -> absl::Status {
    for (const Condition& c : in) {
      Child ch;
      ch.cond = &c;
      switch (c.kind) {
        case Condition::Kind::kHasId:
          for (uint64_t id : c.ids) {
            const uint32_t iid = view.ids->Find(id);
            if (iid != kNoIid) ch.id_set.insert(iid);
          }
          ch.estimate = ch.id_set.size();
          break;
        case Condition::Kind::kFilter: {
          TQ_ASSIGN_OR_RETURN(ch.nested, Build(*c.filter, view, unindexed));
          ch.payload = ch.nested->payload;
          ch.estimate = ch.nested->estimate;
          break;
        }
        default: {
          ch.index = view.field(c.key);
          if (ch.index != nullptr && !ch.index->Answers(c)) {
            ch.index = nullptr;  // made after the filter was checked
          }
          if (ch.index != nullptr) {
            ch.estimate = ch.index->Estimate(c, live);
            ch.prepared = ch.index->Prepare(c);
          } else {
            TQ_ASSIGN_OR_RETURN(ConditionMatcher m,
                                ConditionMatcher::Compile(c));
            ch.matcher = std::move(m);
            ch.payload = true;
            ch.estimate = live;
            unindexed->insert(c.key);
          }
        }
      }
      node->payload |= ch.payload;
      out->push_back(std::move(ch));
    }
    return absl::OkStatus();
  };
  TQ_RETURN_IF_ERROR(add(f.must, &node->must));
  TQ_RETURN_IF_ERROR(add(f.should, &node->should));
  TQ_RETURN_IF_ERROR(add(f.must_not, &node->must_not));
  node->estimate = live;
  for (const Child& c : node->must) {
    node->estimate = std::min(node->estimate, c.estimate);
  }
  return node;
}

Roaring FilterResult::Node::Bits(const Child& c, const IndexView& view) {
  if (c.index != nullptr) return c.index->Evaluate(*c.cond, *view.live);
  if (c.nested != nullptr) return c.nested->Exact(view);
  std::vector<uint32_t> ids(c.id_set.begin(), c.id_set.end());
  std::sort(ids.begin(), ids.end());
  return Roaring(ids.size(), ids.data());
}

Roaring FilterResult::Node::Keep(const Roaring& r, const Child& c, bool want) {
  std::vector<uint32_t> kept;
  for (uint32_t iid : r) {
    if (Check(c, iid) == want) kept.push_back(iid);
  }
  return Roaring(kept.size(), kept.data());
}

// A node without payload conditions, by set algebra.
Roaring FilterResult::Node::Exact(const IndexView& view) const {
  std::vector<size_t> order(must.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return must[a].estimate < must[b].estimate;
  });
  Roaring r;
  bool have = false;
  for (size_t i : order) {
    const Child& c = must[i];
    if (!have) {
      r = Bits(c, view);
      have = true;
    } else if (Checkable(c) && r.cardinality() * kCheckRatio < c.estimate) {
      r = Keep(r, c, true);
    } else {
      r &= Bits(c, view);
    }
    if (r.isEmpty()) return r;
  }
  if (!have) r = *view.live;
  if (!should.empty()) {
    std::vector<Roaring> parts;
    parts.reserve(should.size());
    for (const Child& c : should) {
      Roaring b = Bits(c, view);
      b &= r;
      parts.push_back(std::move(b));
    }
    if (min_should <= 1) {
      std::vector<const Roaring*> ptrs;
      for (const Roaring& p : parts) ptrs.push_back(&p);
      r = ptrs.size() == 1 ? parts[0]
                           : Roaring::fastunion(ptrs.size(), ptrs.data());
    } else {
      std::vector<uint32_t> kept;
      for (uint32_t iid : r) {
        uint32_t n = 0;
        for (const Roaring& p : parts) n += p.contains(iid);
        if (n >= min_should) kept.push_back(iid);
      }
      r = Roaring(kept.size(), kept.data());
    }
  }
  for (const Child& c : must_not) {
    if (r.isEmpty()) break;
    if (Checkable(c) && r.cardinality() * kCheckRatio < c.estimate) {
      r = Keep(r, c, false);
    } else {
      r -= Bits(c, view);
    }
  }
  return r;
}

// A node with payload conditions: the bitmaps its other conditions need in
// phase 2, and the points that can match.
Roaring FilterResult::Node::Superset(const IndexView& view) {
  Roaring s = *view.live;
  for (std::vector<Child>* group : {&must, &should, &must_not}) {
    for (Child& c : *group) {
      if (c.payload) {
        if (c.nested != nullptr && group == &must) {
          s &= c.nested->Superset(view);
        } else if (c.nested != nullptr) {
          c.nested->Superset(view);  // its bitmaps, for phase 2
        }
        continue;
      }
      c.bits = Bits(c, view);
      if (group == &must) s &= c.bits;
      if (group == &must_not) s -= c.bits;
    }
  }
  if (min_should <= 1 && !should.empty() &&
      std::none_of(should.begin(), should.end(),
                   [](const Child& c) { return c.payload; })) {
    std::vector<const Roaring*> ptrs;
    for (const Child& c : should) ptrs.push_back(&c.bits);
    s &= Roaring::fastunion(ptrs.size(), ptrs.data());
  }
  return s;
}

bool FilterResult::Node::Decide(uint32_t iid,
                                const nlohmann::json* payload) const {
  auto holds = [&](const Child& c) {
    if (!c.payload) return c.bits.contains(iid);
    if (c.matcher) return c.matcher->Holds(payload);
    return c.nested->Decide(iid, payload);
  };
  for (const Child& c : must) {
    if (!holds(c)) return false;
  }
  for (const Child& c : must_not) {
    if (holds(c)) return false;
  }
  if (should.empty()) return true;
  uint32_t n = 0;
  for (const Child& c : should) {
    if (holds(c) && ++n >= min_should) return true;
  }
  return false;
}

FilterResult::FilterResult() = default;
FilterResult::~FilterResult() = default;
FilterResult::FilterResult(FilterResult&&) noexcept = default;
FilterResult& FilterResult::operator=(FilterResult&&) noexcept = default;

absl::StatusOr<FilterResult> FilterResult::Evaluate(
    std::shared_ptr<const Filter> filter, const IndexView& view) {
  FilterResult res;
  res.filter_ = std::move(filter);
  std::set<std::string> unindexed;
  TQ_ASSIGN_OR_RETURN(res.root_, Node::Build(*res.filter_, view, &unindexed));
  res.unindexed_.assign(unindexed.begin(), unindexed.end());
  if (!res.root_->payload) {
    res.ids_ = res.root_->Exact(view);
    res.root_.reset();
    return res;
  }
  const Roaring cand = res.root_->Superset(view);
  res.complete_ = false;
  res.candidates_.reserve(cand.cardinality());
  for (uint32_t iid : cand) {
    res.candidates_.push_back({iid, view.ids->ExternalId(iid)});
  }
  return res;
}

void FilterResult::Decide(size_t i, const nlohmann::json* payload) {
  const uint32_t iid = candidates_[i].first;
  if (root_->Decide(iid, payload)) decided_.push_back(iid);
}

void FilterResult::Finish() {
  std::sort(decided_.begin(), decided_.end());
  ids_ = Roaring(decided_.size(), decided_.data());
  decided_.clear();
  decided_.shrink_to_fit();
  candidates_.clear();
  candidates_.shrink_to_fit();
  root_.reset();
  complete_ = true;
}

}  // namespace dbimpl
}  // namespace tqdb
