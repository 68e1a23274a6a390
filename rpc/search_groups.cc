#include "rpc/search_groups.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/json_path.h"
#include "quant/status_macros.h"
#include "rpc/payload_selection.h"

namespace tqdb {
namespace {

namespace pb = ::tqdb::v1;

// The first search's depth: a few times what full groups need, so that
// most searches need one round.
constexpr uint64_t kMinDepth = 64;
constexpr uint64_t kDepthFactor = 4;

struct Group {
  bool keyword = false;
  std::string text;
  int64_t integer = 0;
  std::vector<int> hits;  // indices into the search's points
};

// The distinct group keys of a payload's values at `path`: "s<string>" or
// "i<integer>".
std::vector<std::string> KeysOf(const std::string& payload,
                                const JsonPath& path) {
  std::vector<std::string> keys;
  const nlohmann::json doc =
      nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return keys;
  std::vector<const nlohmann::json*> values;
  path.Resolve(doc, &values);
  ForEachScalar(values, [&](const nlohmann::json& v) {
    int64_t i;
    std::string key;
    if (v.is_string()) {
      key = absl::StrCat("s", v.get_ref<const std::string&>());
    } else if (AsInt64(v, &i)) {
      key = absl::StrCat("i", i);
    } else {
      return;
    }
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      keys.push_back(std::move(key));
    }
  });
  return keys;
}

}  // namespace

absl::Status SearchGroups(const pb::SearchRequest& request, uint32_t max_hits,
                          const SearchFunction& search,
                          pb::SearchResponse* out) {
  TQ_ASSIGN_OR_RETURN(const JsonPath path, JsonPath::Parse(request.group_by()));
  const size_t limit = request.limit();
  const size_t size = std::max<uint32_t>(1, request.group_size());
  pb::SearchRequest deeper = request;
  deeper.clear_group_by();
  deeper.clear_group_size();
  deeper.set_offset(0);
  deeper.set_with_payload(true);
  // (The selector applies to the groups' hits: the key must stay readable.)
  deeper.clear_payload_selector();
  uint64_t depth = std::min<uint64_t>(
      max_hits, std::max<uint64_t>(kMinDepth, kDepthFactor * limit * size));
  for (;;) {
    deeper.set_limit(static_cast<uint32_t>(depth));
    TQ_ASSIGN_OR_RETURN(pb::SearchResponse found, search(deeper));
    std::vector<Group> groups;
    std::unordered_map<std::string, size_t> index;
    for (int h = 0; h < found.points_size(); ++h) {
      for (const std::string& key : KeysOf(found.points(h).payload(), path)) {
        auto it = index.find(key);
        if (it == index.end()) {
          if (groups.size() == limit) continue;  // ranks below the last
          it = index.emplace(key, groups.size()).first;
          Group& g = groups.emplace_back();
          g.keyword = key[0] == 's';
          if (g.keyword) {
            g.text = key.substr(1);
          } else {
            g.integer = std::stoll(key.substr(1));
          }
        }
        Group& g = groups[it->second];
        if (g.hits.size() < size) g.hits.push_back(h);
      }
    }
    const bool full =
        groups.size() == limit &&
        std::all_of(groups.begin(), groups.end(),
                    [&](const Group& g) { return g.hits.size() == size; });
    const bool exhausted = static_cast<uint64_t>(found.points_size()) < depth;
    if (full || exhausted || depth >= max_hits) {
      TQ_ASSIGN_OR_RETURN(const PayloadSelector selector,
                          PayloadSelectorOf(request.payload_selector()));
      out->clear_points();
      out->clear_groups();
      for (const Group& g : groups) {
        pb::PointGroup* pg = out->add_groups();
        if (g.keyword) {
          pg->set_keyword(g.text);
        } else {
          pg->set_integer(g.integer);
        }
        for (int h : g.hits) {
          pb::ScoredPoint* p = pg->add_hits();
          *p = found.points(h);
          if (!request.with_payload()) p->clear_payload();
        }
        SelectPayloads(selector, pg->mutable_hits());
      }
      out->set_nprobe_used(found.nprobe_used());
      *out->mutable_plan() = found.plan();
      *out->mutable_unindexed_fields() = found.unindexed_fields();
      return absl::OkStatus();
    }
    depth = std::min<uint64_t>(max_hits, depth * kDepthFactor);
  }
}

}  // namespace tqdb
