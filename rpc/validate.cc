#include "rpc/validate.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "db/json_path.h"
#include "db/text_words.h"
#include "quant/echo.h"
#include "quant/status_macros.h"
#include "rpc/convert.h"
#include "rpc/payload_selection.h"

namespace tqdb {

absl::Status ValidateCollectionName(const std::string& name) {
  if (name.empty()) {
    return absl::InvalidArgumentError("collection name is empty");
  }
  return absl::OkStatus();
}

absl::Status ValidateCreateCollection(const v1::CreateCollectionRequest& req) {
  if (!v1::Refine_IsValid(req.refine())) {
    return absl::InvalidArgumentError(
        absl::StrCat("refine ", static_cast<int>(req.refine()),
                     " is not one of REFINE_RAW, REFINE_INT8, REFINE_F32"));
  }
  if (!v1::PrefixSharing_IsValid(req.prefix_sharing())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prefix_sharing ", static_cast<int>(req.prefix_sharing()),
        " is not one of PREFIX_SHARING_AUTO, PREFIX_SHARING_ALWAYS, "
        "PREFIX_SHARING_NEVER"));
  }
  if (!v1::PcaWeighting_IsValid(req.pca_weighting())) {
    return absl::InvalidArgumentError(
        absl::StrCat("pca_weighting ", static_cast<int>(req.pca_weighting()),
                     " is not one of PCA_WEIGHTING_AUTO, PCA_WEIGHTING_OFF, "
                     "PCA_WEIGHTING_ON"));
  }
  return absl::OkStatus();
}

absl::Status ValidateUpsert(const v1::UpsertRequest& req) {
  if (req.points().empty()) {
    return absl::InvalidArgumentError("upsert has no points");
  }
  return absl::OkStatus();
}

absl::Status ValidateUpdateVectors(const v1::UpdateVectorsRequest& req) {
  if (req.points().empty()) {
    return absl::InvalidArgumentError("update_vectors has no points");
  }
  return absl::OkStatus();
}

absl::Status ValidateGet(const v1::GetPointsRequest& req) {
  if (static_cast<size_t>(req.ids_size()) > kMaxGetIds) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "get of ", req.ids_size(), " ids exceeds the limit ", kMaxGetIds));
  }
  return ValidatePayloadSelector(req.payload_selector(), req.with_payload());
}

namespace {

// A sparse or hybrid search's fields (the sparse vector's own rules are the
// database's: db/sparse_index.h).
absl::Status ValidateSparseSearch(const v1::SearchRequest& req,
                                  const ServerOptions& options) {
  if (!v1::Fusion_IsValid(req.fusion())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "fusion ", req.fusion(), " is not a Fusion (0 rrf, 1 dbsf)"));
  }
  if (req.sparse_idf() && !HasSparse(req)) {
    return absl::InvalidArgumentError("sparse_idf goes with a sparse_vector");
  }
  if (!req.text().empty()) {
    if (req.has_sparse_vector()) {
      return absl::InvalidArgumentError(
          "text and sparse_vector: give one (a text is searched as its "
          "terms' sparse vector)");
    }
    if (TextWords(req.text()).empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "text '", EchoInput(req.text()), "' holds no words to search"));
    }
  }
  if (HasSparse(req) && IsByExample(req)) {
    return absl::InvalidArgumentError(
        "sparse_vector or text does not go with a search by example "
        "(examples are dense)");
  }
  if (!IsHybrid(req) && (req.fusion() != v1::FUSION_RRF || req.has_rrf_k())) {
    return absl::InvalidArgumentError(
        "fusion and rrf_k apply to a hybrid search (both a vector and a "
        "sparse_vector or text)");
  }
  if (!IsHybrid(req) && !req.has_formula() && req.prefetch_limit() != 0) {
    return absl::InvalidArgumentError(
        "prefetch_limit applies to a hybrid search (both a vector and a "
        "sparse_vector or text) or a formula");
  }
  if (req.has_rrf_k() && !(std::isfinite(req.rrf_k()) && req.rrf_k() > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("rrf_k must be finite and > 0, got ", req.rrf_k()));
  }
  if (req.prefetch_limit() != 0 &&
      (req.prefetch_limit() < uint64_t{req.offset()} + req.limit() ||
       req.prefetch_limit() > options.max_limit)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "prefetch_limit ", req.prefetch_limit(), " must be in [offset + limit ",
        uint64_t{req.offset()} + req.limit(), ", ", options.max_limit,
        "] (0 = offset + limit)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateSearch(const v1::SearchRequest& req,
                            const ServerOptions& options) {
  if (req.limit() == 0) {
    return absl::InvalidArgumentError("limit must be >= 1");
  }
  if (req.limit() > options.max_limit) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limit ", req.limit(), " exceeds the maximum ", options.max_limit));
  }
  if (uint64_t{req.offset()} + req.limit() > options.max_limit) {
    return absl::InvalidArgumentError(
        absl::StrCat("offset ", req.offset(), " + limit ", req.limit(),
                     " exceeds the maximum ", options.max_limit));
  }
  const float os = req.params().oversampling();
  if (!(os == 0 || (std::isfinite(os) && os >= 1.0f && os <= 1000.0f))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "oversampling must be in [1, 1000] ", "(0 = default 4), got ", os));
  }
  const float ps = req.params().probe_sigmas();
  if (!(ps >= 0.0f && ps <= 1000.0f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("probe_sigmas must be in [0, 1000] (0 = off), got ", ps));
  }
  if (req.has_score_threshold() && !std::isfinite(req.score_threshold())) {
    return absl::InvalidArgumentError("score_threshold must be finite");
  }
  TQ_RETURN_IF_ERROR(
      ValidatePayloadSelector(req.payload_selector(), req.with_payload()));
  if (!v1::RecommendStrategy_IsValid(req.strategy())) {
    return absl::InvalidArgumentError(
        absl::StrCat("strategy ", req.strategy(),
                     " is not a RecommendStrategy (0 average_vector, 1 "
                     "best_score, 2 sum_scores)"));
  }
  if (req.strategy() != v1::RECOMMEND_STRATEGY_AVERAGE_VECTOR &&
      !IsByExample(req)) {
    return absl::InvalidArgumentError(
        "strategy applies to a search by example (positive_ids, "
        "negative_ids, positive_vectors, negative_vectors)");
  }
  TQ_RETURN_IF_ERROR(ValidateSparseSearch(req, options));
  if (req.group_by().empty()) {
    if (req.group_size() != 0) {
      return absl::InvalidArgumentError("group_size goes with group_by");
    }
    return absl::OkStatus();
  }
  TQ_RETURN_IF_ERROR(JsonPath::Parse(req.group_by()).status()) << "group_by";
  if (req.offset() != 0) {
    return absl::InvalidArgumentError("offset does not go with group_by");
  }
  const uint64_t size = std::max<uint32_t>(1, req.group_size());
  if (req.limit() * size > options.max_limit) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit ", req.limit(), " x group_size ", size,
                     " exceeds the maximum ", options.max_limit));
  }
  return absl::OkStatus();
}

absl::Status ValidateSearchBatch(const v1::SearchBatchRequest& req,
                                 const ServerOptions& options) {
  const int n = req.searches_size();
  if (n == 0) return absl::InvalidArgumentError("search batch has no searches");
  if (static_cast<uint32_t>(n) > options.max_batch_searches) {
    return absl::ResourceExhaustedError(
        absl::StrCat("batch of ", n, " searches exceeds the limit ",
                     options.max_batch_searches));
  }
  for (int i = 0; i < n; ++i) {
    const v1::SearchRequest& q = req.searches(i);
    if (!q.collection().empty() && q.collection() != req.collection()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "search ", i, ": collection '", EchoInput(q.collection()),
          "' differs from the batch's '", EchoInput(req.collection()), "'"));
    }
    TQ_RETURN_IF_ERROR(ValidateSearch(q, options)) << "search " << i;
    if (!q.group_by().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "search ", i, ": group_by is one search a call (Search)"));
    }
  }
  return absl::OkStatus();
}

namespace {

absl::Status OneSelector(bool ids, bool filter) {
  if (ids == filter) {
    return absl::InvalidArgumentError(
        "select the points by ids or by a filter (exactly one of the two)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateDelete(const v1::DeletePointsRequest& req) {
  if (req.ids_size() > 0 && req.has_filter()) {
    return absl::InvalidArgumentError("delete by ids or by a filter, not both");
  }
  return absl::OkStatus();
}

absl::Status ValidateScroll(const v1::ScrollRequest& req,
                            const ServerOptions& options) {
  if (req.limit() > options.max_limit) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limit ", req.limit(), " exceeds the maximum ", options.max_limit));
  }
  if (req.has_order_by()) {
    if (req.order_by().key().empty()) {
      return absl::InvalidArgumentError(
          "order_by.key is empty (a field with an integer, float or "
          "datetime index)");
    }
    if (req.has_offset() && !req.order_by().has_start_from() &&
        req.order_by().start_from_datetime().empty()) {
      return absl::InvalidArgumentError(
          "offset with order_by needs order_by.start_from (a page's "
          "next_order_value and next_page_offset start the next)");
    }
  }
  return ValidatePayloadSelector(req.payload_selector(), req.with_payload());
}

absl::Status ValidateFacet(const v1::FacetRequest& req,
                           const ServerOptions& options) {
  if (req.key().empty()) {
    return absl::InvalidArgumentError(
        "key is empty (the payload field whose values are counted)");
  }
  if (req.limit() > options.max_limit) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limit ", req.limit(), " exceeds the maximum ", options.max_limit));
  }
  return absl::OkStatus();
}

absl::Status ValidateSetPayload(const v1::SetPayloadRequest& req) {
  if (req.payload().empty()) {
    return absl::InvalidArgumentError("payload is empty (a JSON object)");
  }
  return OneSelector(req.ids_size() > 0, req.has_filter());
}

absl::Status ValidateDeletePayloadKeys(
    const v1::DeletePayloadKeysRequest& req) {
  if (req.keys().empty()) return absl::InvalidArgumentError("keys: none given");
  return OneSelector(req.ids_size() > 0, req.has_filter());
}

absl::Status ValidateFieldIndex(const std::string& field) {
  if (field.empty()) return absl::InvalidArgumentError("field is empty");
  return absl::OkStatus();
}

}  // namespace tqdb
