#include "db/search_examples.h"

#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/str_cat.h"

namespace tqdb {

absl::Status CheckExamples(const SearchExamples& examples, size_t query_size,
                           const CollectionConfig& config) {
  if (query_size != 0) {
    return absl::InvalidArgumentError(
        "give a query vector or examples (positive / negative ids), not "
        "both");
  }
  if (examples.positive.empty()) {
    return absl::InvalidArgumentError(
        "a search by example needs at least one positive id");
  }
  const size_t n = examples.positive.size() + examples.negative.size();
  if (n > kMaxExamples) {
    return absl::InvalidArgumentError(
        absl::StrCat(n, " example ids exceed the maximum ", kMaxExamples));
  }
  if (!config.store_vectors) {
    return absl::FailedPreconditionError(absl::StrCat(
        "collection '", config.name,
        "' keeps no raw vectors (store_vectors = false): a search by example "
        "reads its examples' vectors"));
  }
  return absl::OkStatus();
}

std::vector<uint64_t> ExampleIds(const SearchExamples& examples) {
  std::vector<uint64_t> ids;
  std::unordered_set<uint64_t> seen;
  for (const auto* list : {&examples.positive, &examples.negative}) {
    for (uint64_t id : *list) {
      if (seen.insert(id).second) ids.push_back(id);
    }
  }
  return ids;
}

absl::StatusOr<std::vector<float>> ExampleQuery(
    const CollectionConfig& config, const SearchExamples& examples,
    const std::vector<Record>& records) {
  std::unordered_map<uint64_t, const Record*> by_id;
  for (const Record& r : records) by_id[r.id] = &r;
  const bool cosine = config.metric == Metric::kCosine;
  const uint32_t d = config.dim;
  // The mean of a list's vectors (each of unit norm under cosine).
  auto mean = [&](const std::vector<uint64_t>& ids,
                  const char* kind) -> absl::StatusOr<std::vector<double>> {
    std::vector<double> sum(d, 0.0);
    for (uint64_t id : ids) {
      auto it = by_id.find(id);
      if (it == by_id.end()) {
        return absl::NotFoundError(
            absl::StrCat(kind, " example ", id,
                         " is not a point of collection '", config.name, "'"));
      }
      const Record& r = *it->second;
      if (!r.has_vector || r.vector.size() != d) {
        return absl::FailedPreconditionError(absl::StrCat(
            kind, " example ", id, " has no stored vector in collection '",
            config.name, "'"));
      }
      double norm = 1.0;
      if (cosine) {
        double sq = 0.0;
        for (float x : r.vector) sq += double{x} * x;
        norm = std::sqrt(sq);
        if (norm == 0.0) norm = 1.0;
      }
      for (uint32_t j = 0; j < d; ++j) sum[j] += r.vector[j] / norm;
    }
    for (double& x : sum) x /= static_cast<double>(ids.size());
    return sum;
  };
  auto pos = mean(examples.positive, "positive");
  if (!pos.ok()) return pos.status();
  std::vector<float> q(d);
  if (examples.negative.empty()) {
    for (uint32_t j = 0; j < d; ++j) q[j] = static_cast<float>((*pos)[j]);
  } else {
    auto neg = mean(examples.negative, "negative");
    if (!neg.ok()) return neg.status();
    for (uint32_t j = 0; j < d; ++j) {
      q[j] = static_cast<float>(2.0 * (*pos)[j] - (*neg)[j]);
    }
  }
  bool any = false;
  for (float x : q) any |= x != 0.0f;
  if (cosine && !any) {
    return absl::InvalidArgumentError(
        "the examples' query is the zero vector (the positive and negative "
        "examples cancel out): it has no direction to search");
  }
  return q;
}

std::shared_ptr<const Filter> ExcludingExamples(
    const std::shared_ptr<const Filter>& filter,
    const SearchExamples& examples) {
  Filter f = filter != nullptr ? *filter : Filter();
  f.must_not.push_back(Condition::HasId(ExampleIds(examples)));
  return std::make_shared<const Filter>(std::move(f));
}

}  // namespace tqdb
