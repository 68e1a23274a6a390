#include "rpc/convert.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/datetime.h"
#include "quant/echo.h"
#include "quant/status_macros.h"
#include "rpc/filter_convert.h"

namespace tqdb {

namespace pb = ::tqdb::v1;

static_assert(static_cast<int>(absl::StatusCode::kUnauthenticated) ==
                  static_cast<int>(grpc::StatusCode::UNAUTHENTICATED),
              "absl and gRPC status codes must be numerically identical");
static_assert(static_cast<int>(absl::StatusCode::kDataLoss) ==
                  static_cast<int>(grpc::StatusCode::DATA_LOSS),
              "absl and gRPC status codes must be numerically identical");

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

// ---------------------------------------------------------------- enums

absl::StatusOr<Metric> MetricFromProto(pb::Metric m) {
  switch (m) {
    case pb::METRIC_UNSPECIFIED:
    case pb::METRIC_COSINE:
      return Metric::kCosine;
    case pb::METRIC_IP:
      return Metric::kInnerProduct;
    case pb::METRIC_L2:
      return Metric::kL2;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unknown metric ", static_cast<int>(m)));
  }
}

pb::Metric MetricToProto(Metric m) {
  switch (m) {
    case Metric::kCosine:
      return pb::METRIC_COSINE;
    case Metric::kInnerProduct:
      return pb::METRIC_IP;
    case Metric::kL2:
      return pb::METRIC_L2;
  }
  return pb::METRIC_UNSPECIFIED;
}

RefineKind RefineFromProto(pb::Refine r) {
  switch (r) {
    case pb::REFINE_INT8:
      return RefineKind::kInt8;
    case pb::REFINE_F32:
      return RefineKind::kFloat32;
    default:
      return RefineKind::kNone;
  }
}

pb::Refine RefineToProto(RefineKind kind) {
  switch (kind) {
    case RefineKind::kInt8:
      return pb::REFINE_INT8;
    case RefineKind::kFloat32:
      return pb::REFINE_F32;
    default:
      return pb::REFINE_RAW;
  }
}

PrefixSharing PrefixSharingFromProto(pb::PrefixSharing s) {
  switch (s) {
    case pb::PREFIX_SHARING_ALWAYS:
      return PrefixSharing::kAlways;
    case pb::PREFIX_SHARING_NEVER:
      return PrefixSharing::kNever;
    default:
      return PrefixSharing::kWhereExact;
  }
}

PcaWeighting PcaWeightingFromProto(pb::PcaWeighting w) {
  switch (w) {
    case pb::PCA_WEIGHTING_OFF:
      return PcaWeighting::kOff;
    case pb::PCA_WEIGHTING_ON:
      return PcaWeighting::kOn;
    default:
      return PcaWeighting::kAuto;
  }
}

pb::PcaWeighting PcaWeightingToProto(PcaWeighting w) {
  switch (w) {
    case PcaWeighting::kOff:
      return pb::PCA_WEIGHTING_OFF;
    case PcaWeighting::kOn:
      return pb::PCA_WEIGHTING_ON;
    default:
      return pb::PCA_WEIGHTING_AUTO;
  }
}

pb::PrefixSharing PrefixSharingToProto(PrefixSharing s) {
  switch (s) {
    case PrefixSharing::kAlways:
      return pb::PREFIX_SHARING_ALWAYS;
    case PrefixSharing::kNever:
      return pb::PREFIX_SHARING_NEVER;
    default:
      return pb::PREFIX_SHARING_AUTO;
  }
}

absl::StatusOr<std::string> MethodFromProto(pb::Method m) {
  switch (m) {
    case pb::METHOD_UNSPECIFIED:
    case pb::METHOD_RENORM:
      return std::string("renorm");
    case pb::METHOD_MSE:
      return std::string("mse");
    case pb::METHOD_PROD:
      return std::string("prod");
    case pb::METHOD_PQ:
      return std::string("pq");
    case pb::METHOD_PCA:
      return std::string("pca");
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unknown method ", static_cast<int>(m)));
  }
}

absl::StatusOr<pb::Method> MethodToProto(const std::string& method) {
  if (method == "renorm") return pb::METHOD_RENORM;
  if (method == "mse") return pb::METHOD_MSE;
  if (method == "prod") return pb::METHOD_PROD;
  if (method == "pq") return pb::METHOD_PQ;
  if (method == "pca") return pb::METHOD_PCA;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown method '", method, "' (renorm, mse, prod, pca or pq)"));
}

// ---------------------------------------------------------- collections

Bm25Config FromProto(const pb::Bm25Config& in) {
  Bm25Config c;
  if (!in.language().empty()) c.language = in.language();
  if (in.has_k1()) c.k1 = in.k1();
  if (in.has_b()) c.b = in.b();
  if (in.has_avg_len()) c.avg_len = in.avg_len();
  return c;
}

void ToProto(const Bm25Config& in, pb::Bm25Config* out) {
  out->set_language(in.language);
  out->set_k1(in.k1);
  out->set_b(in.b);
  out->set_avg_len(in.avg_len);
}

absl::StatusOr<CollectionConfig> FromProto(
    const pb::CreateCollectionRequest& in) {
  CollectionConfig c;
  c.name = in.name();
  c.dim = in.dim();
  auto metric = MetricFromProto(in.metric());
  if (!metric.ok()) return metric.status();
  c.metric = *metric;
  auto method = MethodFromProto(in.quantizer().method());
  if (!method.ok()) return method.status();
  c.method = *std::move(method);
  if (in.quantizer().bits() != 0) c.bits = in.quantizer().bits();
  if (in.quantizer().seed() != 0) c.seed = in.quantizer().seed();
  c.nlist = in.ivf().nlist();
  c.train_threshold = in.ivf().train_threshold();
  c.store_vectors = in.has_store_vectors() ? in.store_vectors() : true;
  c.refine = RefineFromProto(in.refine());
  c.prefix_sharing = PrefixSharingFromProto(in.prefix_sharing());
  c.pca_weighting = PcaWeightingFromProto(in.pca_weighting());
  if (in.has_bm25()) c.bm25 = FromProto(in.bm25());
  return c;
}

absl::Status ToProto(const CollectionConfig& in,
                     pb::CreateCollectionRequest* out) {
  auto method = MethodToProto(in.method);
  if (!method.ok()) return method.status();
  out->set_name(in.name);
  out->set_dim(in.dim);
  out->set_metric(MetricToProto(in.metric));
  out->mutable_quantizer()->set_method(*method);
  out->mutable_quantizer()->set_bits(in.bits);
  out->mutable_quantizer()->set_seed(in.seed);
  out->mutable_ivf()->set_nlist(in.nlist);
  out->mutable_ivf()->set_train_threshold(in.train_threshold);
  out->set_store_vectors(in.store_vectors);
  out->set_refine(RefineToProto(in.refine));
  out->set_prefix_sharing(PrefixSharingToProto(in.prefix_sharing));
  out->set_pca_weighting(PcaWeightingToProto(in.pca_weighting));
  if (in.bm25.has_value()) ToProto(*in.bm25, out->mutable_bm25());
  return absl::OkStatus();
}

void ToProto(const CollectionInfo& in, pb::CollectionInfo* out) {
  const CollectionConfig& c = in.config;
  out->set_name(c.name);
  out->set_dim(c.dim);
  out->set_count(in.count);
  out->set_trained(in.trained);
  out->set_metric(MetricToProto(c.metric));
  const auto method = MethodToProto(c.method);
  out->mutable_quantizer()->set_method(method.ok() ? *method
                                                   : pb::METHOD_UNSPECIFIED);
  out->mutable_quantizer()->set_bits(c.bits);
  out->mutable_quantizer()->set_seed(c.seed);
  out->mutable_ivf()->set_nlist(c.nlist);
  out->mutable_ivf()->set_train_threshold(c.train_threshold);
  out->set_store_vectors(c.store_vectors);
  out->set_refine(RefineToProto(c.refine));
  out->set_prefix_sharing(PrefixSharingToProto(c.prefix_sharing));
  out->set_pca_weighting(PcaWeightingToProto(c.pca_weighting));
  out->set_codec(in.codec);
  if (c.bm25.has_value()) ToProto(*c.bm25, out->mutable_bm25());
  out->set_refine_bytes_per_vector(static_cast<uint32_t>(in.refine_bytes));
  out->set_training(in.training);
  out->set_generation(in.generation);
  out->set_nlist(in.nlist);
  out->set_trained_count(in.trained_count);
  pb::ListStats* ls = out->mutable_lists();
  ls->set_nlist(in.lists.nlist);
  ls->set_live(in.lists.live);
  ls->set_tombstones(in.lists.tombstones);
  ls->set_min_size(in.lists.min_size);
  ls->set_max_size(in.lists.max_size);
  ls->set_imbalance(in.lists.imbalance);
  if (!in.lists.sizes.empty()) {
    // 16 buckets of equal width up to the largest list.
    constexpr uint64_t kBuckets = 16;
    const uint64_t max = in.lists.max_size;
    const uint64_t width =
        std::max<uint64_t>(1, (max + kBuckets - 1) / kBuckets);
    const uint64_t n = std::max<uint64_t>(1, (max + width - 1) / width);
    std::vector<uint64_t> counts(n + 1, 0);  // bucket 0: empty lists
    for (uint32_t s : in.lists.sizes) {
      counts[s == 0 ? 0 : (s - 1) / width + 1]++;
    }
    for (uint64_t b = 0; b <= n; ++b) {
      pb::SizeBucket* sb = ls->add_size_histogram();
      sb->set_le(b * width);
      sb->set_lists(counts[b]);
    }
  }
  pb::MemoryUsage* mem = out->mutable_memory();
  mem->set_bytes(in.memory_bytes);
  mem->set_index_bytes(in.memory_index_bytes);
  mem->set_index_bytes_per_vector(in.memory_bytes_per_vector);
  mem->set_reserved_bytes(in.memory_reserved_bytes);
  mem->set_total_bytes(in.memory_total_bytes);
  mem->set_limit_bytes(in.memory_limit_bytes);
  mem->set_sparse_bytes(in.sparse_memory_bytes);
  out->set_disk_bytes(in.disk_bytes);
  out->set_sparse_points(in.sparse_points);
  out->set_bytes_per_vector(static_cast<uint32_t>(in.code_bytes));
  out->set_disk_bytes_per_vector(in.disk_bytes_per_vector);
  out->set_retrain_recommended(in.retrain_recommended);
  out->set_retrain_reason(in.retrain_reason);
  out->set_last_training_error(in.last_training_error);
  for (const FieldIndexInfo& f : in.field_indexes) {
    ToProto(f, out->add_payload_indexes());
  }
}

CollectionInfo FromProto(const pb::CollectionInfo& in) {
  CollectionInfo i;
  CollectionConfig& c = i.config;
  c.name = in.name();
  c.dim = in.dim();
  const auto metric = MetricFromProto(in.metric());
  c.metric = metric.ok() ? *metric : Metric::kCosine;
  const auto method = MethodFromProto(in.quantizer().method());
  c.method = method.ok() ? *method : "renorm";
  c.bits = in.quantizer().bits();
  c.seed = in.quantizer().seed();
  c.nlist = in.ivf().nlist();
  c.train_threshold = in.ivf().train_threshold();
  c.store_vectors = in.store_vectors();
  c.refine = RefineFromProto(in.refine());
  c.prefix_sharing = PrefixSharingFromProto(in.prefix_sharing());
  c.pca_weighting = PcaWeightingFromProto(in.pca_weighting());
  i.codec = in.codec();
  if (in.has_bm25()) c.bm25 = FromProto(in.bm25());
  i.refine_bytes = in.refine_bytes_per_vector();
  i.count = in.count();
  i.trained = in.trained();
  i.training = in.training();
  i.generation = in.generation();
  i.nlist = in.nlist();
  i.trained_count = in.trained_count();
  i.lists.nlist = in.lists().nlist();
  i.lists.live = in.lists().live();
  i.lists.tombstones = in.lists().tombstones();
  i.lists.min_size = static_cast<uint32_t>(in.lists().min_size());
  i.lists.max_size = static_cast<uint32_t>(in.lists().max_size());
  i.lists.imbalance = in.lists().imbalance();
  i.imbalance = in.lists().imbalance();
  i.code_bytes = in.bytes_per_vector();
  i.disk_bytes_per_vector = in.disk_bytes_per_vector();
  i.disk_bytes = in.disk_bytes();
  i.memory_bytes = in.memory().bytes();
  i.memory_index_bytes = in.memory().index_bytes();
  i.memory_bytes_per_vector = in.memory().index_bytes_per_vector();
  i.memory_reserved_bytes = in.memory().reserved_bytes();
  i.memory_total_bytes = in.memory().total_bytes();
  i.memory_limit_bytes = in.memory().limit_bytes();
  i.sparse_memory_bytes = in.memory().sparse_bytes();
  i.sparse_points = in.sparse_points();
  i.retrain_recommended = in.retrain_recommended();
  i.retrain_reason = in.retrain_reason();
  i.last_training_error = in.last_training_error();
  for (const pb::PayloadIndexInfo& f : in.payload_indexes()) {
    i.field_indexes.push_back(FromProto(f));
  }
  return i;
}

void ToProto(const FieldIndexInfo& in, pb::PayloadIndexInfo* out) {
  out->set_field(in.field);
  out->set_type(FieldTypeToProto(in.type));
  out->set_ready(in.ready);
  out->set_points(in.points);
  out->set_memory_bytes(in.memory_bytes);
}

void ToProto(const FacetHit& in, pb::FacetHit* out) {
  switch (in.type) {
    case FieldType::kInteger:
      out->set_integer(in.integer);
      break;
    case FieldType::kBool:
      out->set_boolean(in.integer != 0);
      break;
    default:
      out->set_keyword(in.keyword);
  }
  out->set_count(in.count);
}

FacetHit FromProto(const pb::FacetHit& in) {
  FacetHit h;
  switch (in.value_case()) {
    case pb::FacetHit::kInteger:
      h.type = FieldType::kInteger;
      h.integer = in.integer();
      break;
    case pb::FacetHit::kBoolean:
      h.type = FieldType::kBool;
      h.integer = in.boolean() ? 1 : 0;
      break;
    default:
      h.keyword = in.keyword();
  }
  h.count = in.count();
  return h;
}

FieldIndexInfo FromProto(const pb::PayloadIndexInfo& in) {
  FieldIndexInfo f;
  f.field = in.field();
  const auto type = FieldTypeFromProto(in.type());
  f.type = type.ok() ? *type : FieldType::kKeyword;
  f.ready = in.ready();
  f.points = in.points();
  f.memory_bytes = in.memory_bytes();
  return f;
}

// --------------------------------------------------------------- points

SparseVector FromProto(const pb::SparseVector& in) {
  SparseVector out;
  out.indices.assign(in.indices().begin(), in.indices().end());
  out.values.assign(in.values().begin(), in.values().end());
  return out;
}

void ToProto(const SparseVector& in, pb::SparseVector* out) {
  out->mutable_indices()->Add(in.indices.begin(), in.indices.end());
  out->mutable_values()->Add(in.values.begin(), in.values.end());
}

std::vector<Point> FromProto(
    const google::protobuf::RepeatedPtrField<pb::Point>& in) {
  std::vector<Point> out(in.size());
  for (int i = 0; i < in.size(); ++i) {
    out[i].id = in[i].id();
    out[i].vector.assign(in[i].vector().begin(), in[i].vector().end());
    out[i].payload = in[i].payload();
    if (in[i].has_sparse_vector()) {
      out[i].sparse = FromProto(in[i].sparse_vector());
    }
    out[i].text = in[i].text();
  }
  return out;
}

std::vector<Point> FromProto(
    const google::protobuf::RepeatedPtrField<pb::PointVector>& in) {
  std::vector<Point> out(in.size());
  for (int i = 0; i < in.size(); ++i) {
    out[i].id = in[i].id();
    out[i].vector.assign(in[i].vector().begin(), in[i].vector().end());
    if (in[i].has_sparse_vector()) {
      out[i].sparse = FromProto(in[i].sparse_vector());
    }
    out[i].text = in[i].text();
  }
  return out;
}

void ToProto(Point&& in, pb::Point* out) {
  out->set_id(in.id);
  out->mutable_vector()->Add(in.vector.begin(), in.vector.end());
  out->set_payload(std::move(in.payload));
  if (!in.sparse.empty()) ToProto(in.sparse, out->mutable_sparse_vector());
  out->set_text(std::move(in.text));
}

void ToProto(Record&& in, pb::ScoredPoint* out) {
  out->set_id(in.id);
  if (in.has_vector) {
    out->mutable_vector()->Add(in.vector.begin(), in.vector.end());
  }
  if (!in.sparse.empty()) ToProto(in.sparse, out->mutable_sparse_vector());
  out->set_payload(std::move(in.payload));
}

absl::StatusOr<ScrollOptions> FromProto(const pb::ScrollRequest& in) {
  ScrollOptions o;
  TQ_ASSIGN_OR_RETURN(o.filter, OptionalFilter(in.has_filter(), in.filter()));
  o.limit = in.limit() == 0 ? 10 : in.limit();
  o.offset = in.has_offset() ? in.offset() : 0;
  o.with_payload = in.with_payload();
  o.with_vectors = in.with_vectors();
  if (in.has_order_by()) {
    const pb::OrderBy& ob = in.order_by();
    o.order_by = OrderBy{ob.key(), ob.descending(), std::nullopt};
    if (ob.has_start_from()) o.order_by->start_from = ob.start_from();
    if (!ob.start_from_datetime().empty()) {
      if (ob.has_start_from()) {
        return absl::InvalidArgumentError(
            "order_by: start_from or start_from_datetime, not both");
      }
      const std::optional<int64_t> micros =
          ParseDatetime(ob.start_from_datetime());
      if (!micros) {
        return absl::InvalidArgumentError(absl::StrCat(
            "order_by.start_from_datetime: '",
            EchoInput(ob.start_from_datetime()),
            "' is not an RFC 3339 datetime (2024-03-01T12:00:00Z)"));
      }
      o.order_by->start_from = static_cast<double>(*micros);
    }
  }
  return o;
}

void ToProto(const ScrollOptions& in, pb::ScrollRequest* out) {
  if (in.filter != nullptr) ToProto(*in.filter, out->mutable_filter());
  out->set_limit(in.limit);
  out->set_with_payload(in.with_payload);
  out->set_with_vectors(in.with_vectors);
  if (in.order_by) {
    pb::OrderBy* ob = out->mutable_order_by();
    ob->set_key(in.order_by->key);
    ob->set_descending(in.order_by->descending);
    if (in.order_by->start_from) {
      ob->set_start_from(*in.order_by->start_from);
      out->set_offset(in.offset);
    }
  } else {
    out->set_offset(in.offset);
  }
}

ScrollPage FromProto(const pb::ScrollResponse& in) {
  ScrollPage page;
  for (const pb::ScoredPoint& p : in.points()) {
    Record r;
    r.id = p.id();
    r.has_vector = p.vector_size() > 0;
    r.vector.assign(p.vector().begin(), p.vector().end());
    r.payload = p.payload();
    r.order_value = p.order_value();
    page.points.push_back(std::move(r));
  }
  page.has_next = in.has_next_page_offset();
  page.next_offset = in.next_page_offset();
  page.next_order_value = in.next_order_value();
  page.unindexed_fields.assign(in.unindexed_fields().begin(),
                               in.unindexed_fields().end());
  return page;
}

void ToProto(ScrollPage&& in, bool ordered, pb::ScrollResponse* out) {
  out->mutable_points()->Reserve(static_cast<int>(in.points.size()));
  for (Record& r : in.points) {
    pb::ScoredPoint* p = out->add_points();
    if (ordered) p->set_order_value(r.order_value);
    ToProto(std::move(r), p);
  }
  if (in.has_next) {
    out->set_next_page_offset(in.next_offset);
    if (ordered) out->set_next_order_value(in.next_order_value);
  }
  for (const std::string& k : in.unindexed_fields) {
    out->add_unindexed_fields(k);
  }
}

void ToProto(const Neighbor& in, pb::ScoredPoint* out) {
  out->set_id(in.id);
  out->set_score(in.score);
}

// --------------------------------------------------------------- search

QueryOptions FromProto(const pb::SearchRequest& in) {
  QueryOptions o;
  o.k = in.limit() + in.offset();  // the first `offset` are dropped after
  if (in.params().nprobe() != 0) o.nprobe = in.params().nprobe();
  o.exact = in.params().exact();
  o.rescore = in.params().rescore();
  if (in.params().oversampling() != 0) {
    o.oversampling = in.params().oversampling();
  }
  o.probe_sigmas = in.params().probe_sigmas();
  o.examples.positive.assign(in.positive_ids().begin(),
                             in.positive_ids().end());
  o.examples.negative.assign(in.negative_ids().begin(),
                             in.negative_ids().end());
  for (const pb::ExampleVector& v : in.positive_vectors()) {
    o.examples.positive_vectors.emplace_back(v.values().begin(),
                                             v.values().end());
  }
  for (const pb::ExampleVector& v : in.negative_vectors()) {
    o.examples.negative_vectors.emplace_back(v.values().begin(),
                                             v.values().end());
  }
  switch (in.strategy()) {
    case pb::RECOMMEND_STRATEGY_BEST_SCORE:
      o.examples.strategy = RecommendStrategy::kBestScore;
      break;
    case pb::RECOMMEND_STRATEGY_SUM_SCORES:
      o.examples.strategy = RecommendStrategy::kSumScores;
      break;
    default:  // (validated: average_vector)
      o.examples.strategy = RecommendStrategy::kAverageVector;
      break;
  }
  return o;
}

bool IsByExample(const pb::SearchRequest& in) {
  return in.positive_ids_size() > 0 || in.negative_ids_size() > 0 ||
         in.positive_vectors_size() > 0 || in.negative_vectors_size() > 0;
}

bool HasSparse(const pb::SearchRequest& in) {
  return (in.has_sparse_vector() && (in.sparse_vector().indices_size() > 0 ||
                                     in.sparse_vector().values_size() > 0)) ||
         !in.text().empty();
}

bool IsHybrid(const pb::SearchRequest& in) {
  return HasSparse(in) && in.vector_size() > 0;
}

bool LowerIsBetter(const pb::SearchRequest& in, Metric metric) {
  return metric == Metric::kL2 && !HasSparse(in) && !in.has_formula() &&
         in.strategy() == pb::RECOMMEND_STRATEGY_AVERAGE_VECTOR;
}

void ToProto(const QueryOptions& in, pb::SearchRequest* out) {
  out->set_limit(in.k);
  pb::SearchParams* p = out->mutable_params();
  p->set_nprobe(in.nprobe);
  p->set_exact(in.exact);
  p->set_rescore(in.rescore);
  p->set_oversampling(in.oversampling);
  p->set_probe_sigmas(in.probe_sigmas);
  if (in.filter != nullptr) ToProto(*in.filter, out->mutable_filter());
  out->mutable_positive_ids()->Add(in.examples.positive.begin(),
                                   in.examples.positive.end());
  out->mutable_negative_ids()->Add(in.examples.negative.begin(),
                                   in.examples.negative.end());
  for (const std::vector<float>& v : in.examples.positive_vectors) {
    out->add_positive_vectors()->mutable_values()->Assign(v.begin(), v.end());
  }
  for (const std::vector<float>& v : in.examples.negative_vectors) {
    out->add_negative_vectors()->mutable_values()->Assign(v.begin(), v.end());
  }
  out->set_strategy(static_cast<pb::RecommendStrategy>(
      static_cast<int>(in.examples.strategy)));
}

void ToProto(const SearchInfo& in, pb::SearchResponse* out) {
  out->set_nprobe_used(in.nprobe_used);
  pb::SearchPlan* p = out->mutable_plan();
  p->set_kind(in.plan);
  p->set_matches(in.matches);
  p->set_lists_probed(in.lists_probed);
  p->set_scored(in.scored);
  p->set_filter_ms(in.filter_ms);
  for (const std::string& f : in.unindexed_fields) {
    out->add_unindexed_fields(f);
  }
}

SearchInfo PlanFromProto(const pb::SearchResponse& in) {
  SearchInfo i;
  i.plan = in.plan().kind();
  i.filtered = i.plan.rfind("filtered", 0) == 0;
  i.matches = in.plan().matches();
  i.lists_probed = in.plan().lists_probed();
  i.scored = in.plan().scored();
  i.filter_ms = in.plan().filter_ms();
  i.nprobe_used = in.nprobe_used();
  i.exact = i.plan.empty()
                ? in.nprobe_used() == 0
                : i.plan == "exact" || i.plan == "flat" ||
                      i.plan == "filtered-exact" || i.plan == "filtered-flat";
  i.unindexed_fields.assign(in.unindexed_fields().begin(),
                            in.unindexed_fields().end());
  return i;
}

// --------------------------------------------------------------- aliases

absl::StatusOr<std::vector<AliasChange>> FromProto(
    const pb::UpdateAliasesRequest& in) {
  if (in.actions_size() == 0) {
    return absl::InvalidArgumentError("actions: at least one is needed");
  }
  std::vector<AliasChange> out;
  for (int i = 0; i < in.actions_size(); ++i) {
    const pb::AliasOperation& a = in.actions(i);
    if (a.has_create_alias()) {
      out.push_back({AliasChange::Kind::kCreate, a.create_alias().alias(),
                     a.create_alias().collection()});
    } else if (a.has_delete_alias()) {
      out.push_back({AliasChange::Kind::kDelete, a.delete_alias().alias(), ""});
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "actions[", i, "]: neither create_alias nor delete_alias"));
    }
  }
  return out;
}

void ToProto(const std::map<std::string, std::string>& aliases,
             const std::string& collection, pb::ListAliasesResponse* out) {
  for (const auto& [alias, target] : aliases) {
    if (!collection.empty() && target != collection) continue;
    pb::AliasDescription* d = out->add_aliases();
    d->set_alias(alias);
    d->set_collection(target);
  }
}

}  // namespace tqdb
