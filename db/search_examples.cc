#include "db/search_examples.h"

#include <cmath>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "quant/status_macros.h"

namespace tqdb {

absl::Status CheckExamples(const SearchExamples& examples, size_t query_size,
                           const CollectionConfig& config) {
  if (query_size != 0) {
    return absl::InvalidArgumentError(
        "give a query vector or examples (positive / negative ids), not "
        "both");
  }
  const bool l2 = config.metric == Metric::kL2;
  const size_t npos =
      examples.positive.size() + examples.positive_vectors.size();
  const size_t nneg =
      examples.negative.size() + examples.negative_vectors.size();
  switch (examples.strategy) {
    case RecommendStrategy::kAverageVector:
      if (npos == 0) {
        return absl::InvalidArgumentError(
            "a search by example needs at least one positive id (the "
            "best_score and sum_scores strategies take negatives alone on ip "
            "and cosine collections)");
      }
      break;
    case RecommendStrategy::kBestScore:
      if (npos == 0 && l2) {
        return absl::InvalidArgumentError(
            "the best_score strategy needs a positive id on an l2 collection "
            "(with negatives alone its best points are the farthest, which "
            "no search finds)");
      }
      if (npos + nneg == 0) {
        return absl::InvalidArgumentError(
            "a search by example needs at least one example id");
      }
      break;
    case RecommendStrategy::kSumScores:
      if (l2 && npos <= nneg) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the sum_scores strategy needs more positive than negative ids on "
            "an l2 collection (",
            npos, " positive, ", nneg,
            " negative): otherwise its best points are at infinity"));
      }
      if (npos + nneg == 0) {
        return absl::InvalidArgumentError(
            "a search by example needs at least one example id");
      }
      break;
  }
  const size_t n = npos + nneg;
  if (n > kMaxExamples) {
    return absl::InvalidArgumentError(
        absl::StrCat(n, " examples exceed the maximum ", kMaxExamples));
  }
  for (const auto& [list, kind] :
       {std::pair{&examples.positive_vectors, "positive"},
        std::pair{&examples.negative_vectors, "negative"}}) {
    for (size_t i = 0; i < list->size(); ++i) {
      const std::vector<float>& v = (*list)[i];
      if (v.size() != config.dim) {
        return absl::InvalidArgumentError(absl::StrCat(
            kind, " example vector ", i, " has ", v.size(),
            " dimensions, collection '", config.name, "' has ", config.dim));
      }
      for (size_t j = 0; j < v.size(); ++j) {
        if (!std::isfinite(v[j])) {
          return absl::InvalidArgumentError(absl::StrCat(
              kind, " example vector ", i, " holds a non-finite value at ", j));
        }
      }
    }
  }
  if (!config.store_vectors) {
    if (examples.strategy == RecommendStrategy::kBestScore) {
      return absl::FailedPreconditionError(absl::StrCat(
          "collection '", config.name,
          "' keeps no raw vectors (store_vectors = false): the best_score "
          "strategy scores its candidates on their stored vectors"));
    }
    if (!examples.positive.empty() || !examples.negative.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "collection '", config.name,
          "' keeps no raw vectors (store_vectors = false): a search by "
          "example ids reads their vectors (give the examples as vectors)"));
    }
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

absl::StatusOr<ExampleVectors> ExampleVectorsOf(
    const CollectionConfig& config, const SearchExamples& examples,
    const std::vector<Record>& records) {
  std::unordered_map<uint64_t, const Record*> by_id;
  for (const Record& r : records) by_id[r.id] = &r;
  const bool cosine = config.metric == Metric::kCosine;
  const uint32_t d = config.dim;
  // v, of unit norm under cosine (a zero vector stays zero).
  auto append = [&](const std::vector<float>& v,
                    std::vector<std::vector<float>>* out) {
    double norm = 1.0;
    if (cosine) {
      double sq = 0.0;
      for (float x : v) sq += double{x} * x;
      norm = std::sqrt(sq);
      if (norm == 0.0) norm = 1.0;
    }
    std::vector<float>& u = out->emplace_back(d);
    for (uint32_t j = 0; j < d; ++j) u[j] = static_cast<float>(v[j] / norm);
  };
  auto read = [&](const std::vector<uint64_t>& ids, const char* kind,
                  std::vector<std::vector<float>>* out) -> absl::Status {
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
      append(r.vector, out);
    }
    return absl::OkStatus();
  };
  ExampleVectors ev;
  TQ_RETURN_IF_ERROR(read(examples.positive, "positive", &ev.positive));
  TQ_RETURN_IF_ERROR(read(examples.negative, "negative", &ev.negative));
  // The examples given as vectors (checked: of the dimension, finite).
  for (const auto& [given, out] :
       {std::pair{&examples.positive_vectors, &ev.positive},
        std::pair{&examples.negative_vectors, &ev.negative}}) {
    for (const std::vector<float>& v : *given) {
      if (v.size() != d) {
        return absl::InvalidArgumentError(absl::StrCat(
            "an example vector has ", v.size(), " dimensions, collection '",
            config.name, "' has ", d));
      }
      append(v, out);
    }
  }
  return ev;
}

absl::StatusOr<std::vector<float>> ExampleQuery(
    const CollectionConfig& config, const SearchExamples& examples,
    const std::vector<Record>& records) {
  TQ_ASSIGN_OR_RETURN(const ExampleVectors ev,
                      ExampleVectorsOf(config, examples, records));
  const uint32_t d = config.dim;
  auto mean = [&](const std::vector<std::vector<float>>& list) {
    std::vector<double> sum(d, 0.0);
    for (const std::vector<float>& v : list) {
      for (uint32_t j = 0; j < d; ++j) sum[j] += v[j];
    }
    for (double& x : sum) x /= static_cast<double>(list.size());
    return sum;
  };
  const std::vector<double> pos = mean(ev.positive);
  std::vector<float> q(d);
  if (ev.negative.empty()) {
    for (uint32_t j = 0; j < d; ++j) q[j] = static_cast<float>(pos[j]);
  } else {
    const std::vector<double> neg = mean(ev.negative);
    for (uint32_t j = 0; j < d; ++j) {
      q[j] = static_cast<float>(2.0 * pos[j] - neg[j]);
    }
  }
  bool any = false;
  for (float x : q) any |= x != 0.0f;
  if (config.metric == Metric::kCosine && !any) {
    return absl::InvalidArgumentError(
        "the examples' query is the zero vector (the positive and negative "
        "examples cancel out): it has no direction to search");
  }
  return q;
}

std::shared_ptr<const Filter> ExcludingExamples(
    const std::shared_ptr<const Filter>& filter,
    const SearchExamples& examples) {
  if (examples.positive.empty() && examples.negative.empty()) return filter;
  Filter f = filter != nullptr ? *filter : Filter();
  f.must_not.push_back(Condition::HasId(ExampleIds(examples)));
  return std::make_shared<const Filter>(std::move(f));
}

}  // namespace tqdb
