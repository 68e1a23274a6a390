// The tqdb.v1 services over db::Database (contract: rpc/server.h).
#include "rpc/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "quant/finite.h"
#include "quant/status_macros.h"
#include "rpc/convert.h"
#include "tqdb/v1/tqdb.grpc.pb.h"

namespace tqdb {

static_assert(static_cast<int>(absl::StatusCode::kUnauthenticated) ==
                  static_cast<int>(grpc::StatusCode::UNAUTHENTICATED),
              "absl and gRPC status codes must be numerically identical");
static_assert(static_cast<int>(absl::StatusCode::kDataLoss) ==
                  static_cast<int>(grpc::StatusCode::DATA_LOSS),
              "absl and gRPC status codes must be numerically identical");

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

namespace {

namespace fs = std::filesystem;
namespace pb = ::tqdb::v1;

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

absl::Status Invalid(absl::string_view what) {
  return absl::InvalidArgumentError(what);
}

// ---------------------------------------------------------------------------
// Conversions between proto and db types.

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
  out->set_bytes_per_vector(static_cast<uint32_t>(in.code_bytes));
  out->set_disk_bytes_per_vector(in.disk_bytes_per_vector);
  out->set_retrain_recommended(in.retrain_recommended);
  out->set_retrain_reason(in.retrain_reason);
  out->set_last_training_error(in.last_training_error);
}

// Points of one request, converted and checked for the whole-batch rules the
// database does not know (an empty batch).
absl::StatusOr<std::vector<Point>> FromProto(
    const google::protobuf::RepeatedPtrField<pb::Point>& in) {
  if (in.empty()) return Invalid("upsert has no points");
  std::vector<Point> out(in.size());
  for (int i = 0; i < in.size(); ++i) {
    out[i].id = in[i].id();
    out[i].vector.assign(in[i].vector().begin(), in[i].vector().end());
    out[i].payload = in[i].payload();
  }
  return out;
}

// The cancellation poll handed to long scans: called between IVF lists (so
// thousands of times per batch) and from several threads. The deadline is a
// clock comparison; ServerContext::IsCancelled() (which for the sync API
// plucks the call's completion queue, and costs about half a millisecond
// while gRPC's poller owns it) runs at most every 50 ms, from one
// thread at a time.
std::function<bool()> CancelCheck(grpc::ServerContextBase* ctx) {
  constexpr int64_t kPollNs = 50'000'000;
  struct State {
    grpc::ServerContextBase* ctx;
    std::chrono::system_clock::time_point deadline;
    std::atomic<int64_t> next_poll_ns{0};
    std::atomic<bool> cancelled{false};
    std::mutex poll_mu;
  };
  auto st = std::make_shared<State>();
  st->ctx = ctx;
  st->deadline = ctx->deadline();
  // The first poll after 50 ms too: ordinary searches never pay for one; a
  // client that goes away is noticed within 50 ms of a long scan.
  st->next_poll_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         Clock::now().time_since_epoch())
                         .count() +
                     kPollNs;
  return [st]() -> bool {
    if (st->cancelled.load(std::memory_order_relaxed)) return true;
    if (std::chrono::system_clock::now() >= st->deadline) {
      st->cancelled = true;
      return true;
    }
    const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            Clock::now().time_since_epoch())
                            .count();
    if (now < st->next_poll_ns.load(std::memory_order_relaxed)) return false;
    std::unique_lock<std::mutex> l(st->poll_mu, std::try_to_lock);
    if (!l.owns_lock()) return false;
    st->next_poll_ns = now + kPollNs;
    if (st->ctx->IsCancelled()) st->cancelled = true;
    return st->cancelled.load();
  };
}

// ---------------------------------------------------------------------------
// Shared by the services: the database, the options, authentication and the
// exception barrier.

class Shared {
 public:
  Shared(Database* db, ServerOptions options)
      : db_(db), options_(std::move(options)) {
    if (!options_.api_key.empty()) {
      expected_auth_ = "Bearer " + options_.api_key;
    }
  }

  Database* db() const { return db_; }
  const ServerOptions& options() const { return options_; }

  // Runs `body` after authentication, converting its status and any
  // exception it throws.
  grpc::Status Call(grpc::ServerContextBase* ctx,
                    const std::function<absl::Status()>& body) const {
    try {
      if (absl::Status a = Authenticate(ctx); !a.ok()) return ToGrpcStatus(a);
      absl::Status s = body();
      if (absl::IsCancelled(s)) {
        const bool past_deadline =
            ctx->deadline() <= std::chrono::system_clock::now();
        if (past_deadline || ctx->IsCancelled()) {
          return grpc::Status(past_deadline
                                  ? grpc::StatusCode::DEADLINE_EXCEEDED
                                  : grpc::StatusCode::CANCELLED,
                              std::string(s.message()));
        }
      }
      return ToGrpcStatus(s);
    } catch (const std::bad_alloc&) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "out of memory serving the request");
    } catch (const std::exception& e) {
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          absl::StrCat("internal error: ", e.what()));
    } catch (...) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "internal error");
    }
  }

  absl::StatusOr<std::shared_ptr<Collection>> GetCollection(
      const std::string& name) const {
    if (name.empty()) return Invalid("collection name is empty");
    return db_->GetCollection(name);
  }

 private:
  absl::Status Authenticate(grpc::ServerContextBase* ctx) const {
    if (expected_auth_.empty()) return absl::OkStatus();
    const auto& md = ctx->client_metadata();
    auto it = md.find("authorization");
    if (it == md.end()) {
      return absl::UnauthenticatedError(
          "missing 'authorization: Bearer <key>' metadata (the server "
          "requires an API key)");
    }
    const grpc::string_ref got = it->second;
    // Constant time in the key's length.
    unsigned char diff = got.size() == expected_auth_.size() ? 0 : 1;
    for (size_t i = 0; i < expected_auth_.size(); ++i) {
      const unsigned char g =
          i < got.size() ? static_cast<unsigned char>(got.data()[i]) : 0;
      diff |= g ^ static_cast<unsigned char>(expected_auth_[i]);
    }
    if (diff != 0) return absl::UnauthenticatedError("invalid API key");
    return absl::OkStatus();
  }

  Database* const db_;
  const ServerOptions options_;
  std::string expected_auth_;
};

// ---------------------------------------------------------------------------
// Collections

class CollectionsService final : public pb::Collections::Service {
 public:
  explicit CollectionsService(const Shared* s) : s_(s) {}

  grpc::Status Create(grpc::ServerContext* ctx,
                      const pb::CreateCollectionRequest* req,
                      pb::CollectionInfo* resp) override {
    return s_->Call(ctx, [&]() -> absl::Status {
      CollectionConfig c;
      c.name = req->name();
      c.dim = req->dim();
      TQ_ASSIGN_OR_RETURN(c.metric, MetricFromProto(req->metric()));
      TQ_ASSIGN_OR_RETURN(c.method, MethodFromProto(req->quantizer().method()));
      if (req->quantizer().bits() != 0) c.bits = req->quantizer().bits();
      if (req->quantizer().seed() != 0) c.seed = req->quantizer().seed();
      c.nlist = req->ivf().nlist();
      c.train_threshold = req->ivf().train_threshold();
      c.store_vectors = req->has_store_vectors() ? req->store_vectors() : true;
      TQ_ASSIGN_OR_RETURN(CollectionInfo info, s_->db()->CreateCollection(c));
      ToProto(info, resp);
      return absl::OkStatus();
    });
  }

  grpc::Status Get(grpc::ServerContext* ctx,
                   const pb::GetCollectionRequest* req,
                   pb::CollectionInfo* resp) override {
    return s_->Call(ctx, [&]() -> absl::Status {
      TQ_ASSIGN_OR_RETURN(auto c, s_->GetCollection(req->name()));
      TQ_ASSIGN_OR_RETURN(CollectionInfo info, c->Info());
      ToProto(info, resp);
      return absl::OkStatus();
    });
  }

  grpc::Status List(grpc::ServerContext* ctx,
                    const pb::ListCollectionsRequest* /*req*/,
                    pb::ListCollectionsResponse* resp) override {
    return s_->Call(ctx, [&]() -> absl::Status {
      for (const std::string& name : s_->db()->ListCollections()) {
        auto c = s_->db()->GetCollection(name);
        if (absl::IsNotFound(c.status())) continue;  // dropped meanwhile
        TQ_RETURN_IF_ERROR(c.status());
        auto info = (*c)->Info();
        if (absl::IsNotFound(info.status())) continue;
        TQ_RETURN_IF_ERROR(info.status());
        ToProto(*info, resp->add_collections());
      }
      return absl::OkStatus();
    });
  }

  grpc::Status Delete(grpc::ServerContext* ctx,
                      const pb::DeleteCollectionRequest* req,
                      pb::DeleteCollectionResponse* /*resp*/) override {
    return s_->Call(ctx, [&]() -> absl::Status {
      if (req->name().empty()) return Invalid("collection name is empty");
      return s_->db()->DropCollection(req->name());
    });
  }

  grpc::Status Train(grpc::ServerContext* ctx,
                     const pb::TrainCollectionRequest* req,
                     pb::CollectionInfo* resp) override {
    return s_->Call(ctx, [&]() -> absl::Status {
      TQ_ASSIGN_OR_RETURN(auto c, s_->GetCollection(req->name()));
      TQ_RETURN_IF_ERROR(req->retrain() ? c->Retrain() : c->Train());
      TQ_ASSIGN_OR_RETURN(CollectionInfo info, c->Info());
      ToProto(info, resp);
      return absl::OkStatus();
    });
  }

 private:
  const Shared* const s_;
};

// ---------------------------------------------------------------------------
// Points

// Request and response of one call on one protobuf arena: a batch of 32
// searches parses into 33 messages and answers with 352, which would
// otherwise be as many heap allocations (and frees) per call.
template <typename Req, typename Resp>
class ArenaAllocator final : public grpc::MessageAllocator<Req, Resp> {
 public:
  grpc::MessageHolder<Req, Resp>* AllocateMessages() override {
    return new Holder();
  }

 private:
  class Holder final : public grpc::MessageHolder<Req, Resp> {
   public:
    Holder() : arena_(Options()) {
      this->set_request(google::protobuf::Arena::CreateMessage<Req>(&arena_));
      this->set_response(google::protobuf::Arena::CreateMessage<Resp>(&arena_));
    }
    void Release() override { delete this; }

   private:
    static google::protobuf::ArenaOptions Options() {
      google::protobuf::ArenaOptions o;
      o.start_block_size = 16 << 10;
      o.max_block_size = 256 << 10;
      return o;
    }
    google::protobuf::Arena arena_;
  };
};

// Search and SearchBatch use gRPC's callback API: the handler runs on the
// thread that read the request (no hand-off to a sync-server thread), and
// the search itself runs inline (it is CPU work of milliseconds, parallel
// across the database's threads for a batch).
class PointsService final
    : public pb::Points::WithCallbackMethod_Search<
          pb::Points::WithCallbackMethod_SearchBatch<pb::Points::Service>> {
 public:
  explicit PointsService(const Shared* s) : s_(s) {
    SetMessageAllocatorFor_Search(&search_alloc_);
    SetMessageAllocatorFor_SearchBatch(&batch_alloc_);
  }

  grpc::Status Upsert(grpc::ServerContext* ctx, const pb::UpsertRequest* req,
                      pb::UpsertResponse* resp) override {
    const auto t0 = Clock::now();
    return s_->Call(ctx, [&]() -> absl::Status {
      TQ_ASSIGN_OR_RETURN(auto c, s_->GetCollection(req->collection()));
      TQ_ASSIGN_OR_RETURN(std::vector<Point> points, FromProto(req->points()));
      TQ_RETURN_IF_ERROR(c->Upsert(points, req->wait()));
      resp->set_upserted(points.size());
      resp->set_batches(1);
      resp->set_time_ms(MsSince(t0));
      return absl::OkStatus();
    });
  }

  grpc::Status UpsertStream(grpc::ServerContext* ctx,
                            grpc::ServerReader<pb::UpsertRequest>* reader,
                            pb::UpsertResponse* resp) override {
    const auto t0 = Clock::now();
    return s_->Call(ctx, [&]() -> absl::Status {
      pb::UpsertRequest req;
      uint64_t batches = 0, points_done = 0;
      std::string name;
      std::shared_ptr<Collection> c;
      while (reader->Read(&req)) {
        auto fail = [&](const absl::Status& s) {
          return absl::Status(
              s.code(), absl::StrCat("batch ", batches, ": ", s.message(), " (",
                                     batches, " batches, ", points_done,
                                     " points before it were stored)"));
        };
        if (ctx->IsCancelled()) {
          return fail(absl::CancelledError("stream cancelled"));
        }
        if (!c || req.collection() != name) {
          auto got = s_->GetCollection(req.collection());
          if (!got.ok()) return fail(got.status());
          c = *got;
          name = req.collection();
        }
        auto points = FromProto(req.points());
        if (!points.ok()) return fail(points.status());
        absl::Status s = c->Upsert(*points, req.wait());
        if (!s.ok()) return fail(s);
        ++batches;
        points_done += points->size();
      }
      resp->set_upserted(points_done);
      resp->set_batches(batches);
      resp->set_time_ms(MsSince(t0));
      return absl::OkStatus();
    });
  }

  grpc::Status Get(grpc::ServerContext* ctx, const pb::GetPointsRequest* req,
                   pb::GetPointsResponse* resp) override {
    return s_->Call(ctx, [&]() -> absl::Status {
      TQ_ASSIGN_OR_RETURN(auto c, s_->GetCollection(req->collection()));
      if (static_cast<size_t>(req->ids_size()) > kMaxGetIds) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "get of ", req->ids_size(), " ids exceeds the limit ", kMaxGetIds));
      }
      std::vector<uint64_t> ids(req->ids().begin(), req->ids().end());
      TQ_ASSIGN_OR_RETURN(
          std::vector<Record> recs,
          c->Get(ids, req->with_vectors(), req->with_payload()));
      for (Record& r : recs) {
        pb::ScoredPoint* p = resp->add_points();
        p->set_id(r.id);
        if (r.has_vector) {
          p->mutable_vector()->Add(r.vector.begin(), r.vector.end());
        }
        p->set_payload(std::move(r.payload));
      }
      return absl::OkStatus();
    });
  }

  grpc::Status Delete(grpc::ServerContext* ctx,
                      const pb::DeletePointsRequest* req,
                      pb::DeletePointsResponse* resp) override {
    return s_->Call(ctx, [&]() -> absl::Status {
      TQ_ASSIGN_OR_RETURN(auto c, s_->GetCollection(req->collection()));
      std::vector<uint64_t> ids(req->ids().begin(), req->ids().end());
      TQ_ASSIGN_OR_RETURN(size_t n, c->Delete(ids, req->wait()));
      resp->set_deleted(n);
      return absl::OkStatus();
    });
  }

  grpc::Status Count(grpc::ServerContext* ctx, const pb::CountRequest* req,
                     pb::CountResponse* resp) override {
    return s_->Call(ctx, [&]() -> absl::Status {
      TQ_ASSIGN_OR_RETURN(auto c, s_->GetCollection(req->collection()));
      resp->set_count(c->Count());
      return absl::OkStatus();
    });
  }

  grpc::ServerUnaryReactor* Search(grpc::CallbackServerContext* ctx,
                                   const pb::SearchRequest* req,
                                   pb::SearchResponse* resp) override {
    grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
    r->Finish(DoSearch(ctx, req, resp));
    return r;
  }

  grpc::ServerUnaryReactor* SearchBatch(
      grpc::CallbackServerContext* ctx, const pb::SearchBatchRequest* req,
      pb::SearchBatchResponse* resp) override {
    grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
    r->Finish(DoSearchBatch(ctx, req, resp));
    return r;
  }

 private:
  grpc::Status DoSearch(grpc::ServerContextBase* ctx,
                        const pb::SearchRequest* req,
                        pb::SearchResponse* resp) {
    const auto t0 = Clock::now();
    return s_->Call(ctx, [&]() -> absl::Status {
      TQ_ASSIGN_OR_RETURN(auto c, s_->GetCollection(req->collection()));
      TQ_RETURN_IF_ERROR(CheckSearch(*req, *c, -1));
      const QueryOptions o = Options(*req, ctx);
      TQ_ASSIGN_OR_RETURN(std::vector<Neighbor> hits,
                          c->Search(req->vector(), o));
      TQ_RETURN_IF_ERROR(Fill(*req, *c, hits, resp));
      resp->set_time_ms(MsSince(t0));
      return absl::OkStatus();
    });
  }

  grpc::Status DoSearchBatch(grpc::ServerContextBase* ctx,
                             const pb::SearchBatchRequest* req,
                             pb::SearchBatchResponse* resp) {
    const auto t0 = Clock::now();
    return s_->Call(ctx, [&]() -> absl::Status {
      TQ_ASSIGN_OR_RETURN(auto c, s_->GetCollection(req->collection()));
      const int n = req->searches_size();
      if (n == 0) return Invalid("search batch has no searches");
      if (static_cast<uint32_t>(n) > s_->options().max_batch_searches) {
        return absl::ResourceExhaustedError(
            absl::StrCat("batch of ", n, " searches exceeds the limit ",
                         s_->options().max_batch_searches));
      }
      bool uniform = true;
      const pb::SearchRequest& first = req->searches(0);
      for (int i = 0; i < n; ++i) {
        const pb::SearchRequest& q = req->searches(i);
        if (!q.collection().empty() && q.collection() != req->collection()) {
          return Invalid(absl::StrCat("search ", i, ": collection '",
                                      q.collection(),
                                      "' differs from the "
                                      "batch's '",
                                      req->collection(), "'"));
        }
        TQ_RETURN_IF_ERROR(CheckSearch(q, *c, i));
        uniform = uniform && q.limit() == first.limit() &&
                  q.params().SerializeAsString() ==
                      first.params().SerializeAsString();
      }
      std::vector<std::vector<Neighbor>> hits;
      if (uniform) {
        // One call: the database spreads the queries over its threads.
        const uint32_t d = c->config().dim;
        std::vector<float> all(size_t{d} * n);
        for (int i = 0; i < n; ++i) {
          std::copy(req->searches(i).vector().begin(),
                    req->searches(i).vector().end(),
                    all.begin() + size_t{d} * i);
        }
        auto r = c->SearchBatch(all, Options(first, ctx));
        if (!r.ok()) return r.status();
        hits = std::move(*r);
      } else {
        hits.resize(n);
        for (int i = 0; i < n; ++i) {
          const pb::SearchRequest& q = req->searches(i);
          auto r = c->Search(q.vector(), Options(q, ctx));
          if (!r.ok()) {
            return absl::Status(
                r.status().code(),
                absl::StrCat("search ", i, ": ", r.status().message()));
          }
          hits[i] = std::move(*r);
        }
      }
      resp->mutable_results()->Reserve(n);
      for (int i = 0; i < n; ++i) {
        pb::SearchResponse* out = resp->add_results();
        TQ_RETURN_IF_ERROR(Fill(req->searches(i), *c, hits[i], out));
      }
      resp->set_time_ms(MsSince(t0));
      return absl::OkStatus();
    });
  }

 private:
  static constexpr size_t kMaxGetIds = 100000;

  ArenaAllocator<pb::SearchRequest, pb::SearchResponse> search_alloc_;
  ArenaAllocator<pb::SearchBatchRequest, pb::SearchBatchResponse> batch_alloc_;

  // The checks the database leaves to the API (it would answer some of them
  // too, with less precise messages).
  // `index` >= 0 names the search within a batch in the message.
  absl::Status CheckSearch(const pb::SearchRequest& q, const Collection& c,
                           int index) const {
    absl::Status s = CheckSearchFields(q, c);
    if (s.ok() || index < 0) return s;
    return Invalid(absl::StrCat("search ", index, ": ", s.message()));
  }

  absl::Status CheckSearchFields(const pb::SearchRequest& q,
                                 const Collection& c) const {
    if (q.vector().empty()) return Invalid("vector is empty");
    if (q.vector_size() != static_cast<int>(c.config().dim)) {
      return Invalid(absl::StrCat("vector has ", q.vector_size(),
                                  " dimensions, collection '", c.config().name,
                                  "' has ", c.config().dim));
    }
    if (const std::ptrdiff_t j =
            FirstNonFinite(q.vector().data(), q.vector().size());
        j >= 0) {
      return Invalid(
          absl::StrCat("vector coordinate ", j, " is ",
                       std::isnan(q.vector(j)) ? "NaN" : "infinite"));
    }
    if (q.limit() == 0) return Invalid("limit must be >= 1");
    if (q.limit() > s_->options().max_limit) {
      return Invalid(absl::StrCat("limit ", q.limit(), " exceeds the maximum ",
                                  s_->options().max_limit));
    }
    const float os = q.params().oversampling();
    if (!(os == 0 || (std::isfinite(os) && os >= 1.0f && os <= 1000.0f))) {
      return Invalid(absl::StrCat("oversampling must be in [1, 1000] ",
                                  "(0 = default 4), got ", os));
    }
    if (q.has_score_threshold() && !std::isfinite(q.score_threshold())) {
      return Invalid("score_threshold must be finite");
    }
    return absl::OkStatus();
  }

  static QueryOptions Options(const pb::SearchRequest& q,
                              grpc::ServerContextBase* ctx) {
    QueryOptions o;
    o.k = q.limit();
    if (q.params().nprobe() != 0) {
      o.nprobe = q.params().nprobe();
      o.strict_nprobe = true;
    }
    o.exact = q.params().exact();
    o.rescore = q.params().rescore();
    if (q.params().oversampling() != 0) {
      o.oversampling = q.params().oversampling();
    }
    o.cancelled = CancelCheck(ctx);
    return o;
  }

  // Threshold, then vectors and payloads of the hits.
  absl::Status Fill(const pb::SearchRequest& q, const Collection& c,
                    const std::vector<Neighbor>& hits,
                    pb::SearchResponse* out) const {
    const bool l2 = c.config().metric == Metric::kL2;
    std::vector<uint64_t> ids;
    ids.reserve(hits.size());
    out->mutable_points()->Reserve(static_cast<int>(hits.size()));
    for (const Neighbor& h : hits) {
      if (q.has_score_threshold() && (l2 ? h.score > q.score_threshold()
                                         : h.score < q.score_threshold())) {
        continue;
      }
      pb::ScoredPoint* p = out->add_points();
      p->set_id(h.id);
      p->set_score(h.score);
      ids.push_back(h.id);
    }
    if (ids.empty() || !(q.with_vectors() || q.with_payload())) {
      return absl::OkStatus();
    }
    TQ_ASSIGN_OR_RETURN(std::vector<Record> recs,
                        c.Get(ids, q.with_vectors(), q.with_payload()));
    std::unordered_map<uint64_t, Record*> by_id;
    for (Record& r : recs) by_id[r.id] = &r;
    for (pb::ScoredPoint& p : *out->mutable_points()) {
      auto it = by_id.find(p.id());
      if (it == by_id.end()) continue;  // deleted since the search
      if (it->second->has_vector) {
        p.mutable_vector()->Add(it->second->vector.begin(),
                                it->second->vector.end());
      }
      p.set_payload(it->second->payload);
    }
    return absl::OkStatus();
  }

  const Shared* const s_;
};

// ---------------------------------------------------------------------------
// Snapshots: directories <snapshot_dir>/<name>, each a RocksDB checkpoint
// plus a small TQDB_SNAPSHOT file (collection, creation time).

constexpr char kSnapshotMeta[] = "TQDB_SNAPSHOT";

class SnapshotsService final : public pb::Snapshots::Service {
 public:
  SnapshotsService(const Shared* s, std::string dir)
      : s_(s), dir_(std::move(dir)) {}

  grpc::Status Create(grpc::ServerContext* ctx,
                      const pb::CreateSnapshotRequest* req,
                      pb::SnapshotDescription* resp) override {
    return s_->Call(ctx, [&]() -> absl::Status {
      std::lock_guard<std::mutex> l(mu_);
      std::error_code ec;
      fs::create_directories(dir_, ec);
      if (ec) {
        return absl::InternalError(
            absl::StrCat("cannot create ", dir_, ": ", ec.message()));
      }
      const int64_t now = absl::ToUnixSeconds(absl::Now());
      const std::string base = absl::StrCat(
          req->collection().empty() ? "all" : req->collection(), "-",
          absl::FormatTime("%Y%m%dT%H%M%SZ", absl::FromUnixSeconds(now),
                           absl::UTCTimeZone()));
      std::string name = base;
      for (int i = 2; fs::exists(fs::path(dir_) / name, ec); ++i) {
        name = absl::StrCat(base, "-", i);
      }
      const fs::path path = fs::path(dir_) / name;
      TQ_RETURN_IF_ERROR(
          s_->db()->CreateSnapshot(path.string(), req->collection()));
      std::ofstream meta(path / kSnapshotMeta);
      meta << "collection=" << req->collection() << "\ncreated=" << now << "\n";
      meta.close();
      if (!meta) {
        return absl::InternalError(
            absl::StrCat("cannot write ", (path / kSnapshotMeta).string()));
      }
      return Describe(path, resp);
    });
  }

  grpc::Status List(grpc::ServerContext* ctx,
                    const pb::ListSnapshotsRequest* req,
                    pb::ListSnapshotsResponse* resp) override {
    return s_->Call(ctx, [&]() -> absl::Status {
      std::lock_guard<std::mutex> l(mu_);
      std::vector<pb::SnapshotDescription> all;
      std::error_code ec;
      for (const auto& e : fs::directory_iterator(dir_, ec)) {
        if (!fs::exists(e.path() / kSnapshotMeta)) continue;
        pb::SnapshotDescription d;
        TQ_RETURN_IF_ERROR(Describe(e.path(), &d));
        if (!req->collection().empty() && d.collection() != req->collection())
          continue;
        all.push_back(std::move(d));
      }
      std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
        return std::make_pair(a.creation_time(), a.name()) <
               std::make_pair(b.creation_time(), b.name());
      });
      for (auto& d : all) *resp->add_snapshots() = std::move(d);
      return absl::OkStatus();
    });
  }

 private:
  static absl::Status Describe(const fs::path& path,
                               pb::SnapshotDescription* d) {
    d->set_name(path.filename().string());
    d->set_path(path.string());
    std::ifstream meta(path / kSnapshotMeta);
    std::string line;
    while (std::getline(meta, line)) {
      if (absl::StartsWith(line, "collection=")) {
        d->set_collection(line.substr(11));
      } else if (absl::StartsWith(line, "created=")) {
        int64_t t = 0;
        if (absl::SimpleAtoi(line.substr(8), &t)) d->set_creation_time(t);
      }
    }
    uint64_t size = 0;
    std::error_code ec;
    for (const auto& f : fs::recursive_directory_iterator(path, ec)) {
      if (f.is_regular_file(ec)) size += f.file_size(ec);
    }
    d->set_size_bytes(size);
    return absl::OkStatus();
  }

  const Shared* const s_;
  const std::string dir_;
  std::mutex mu_;
};

// ---------------------------------------------------------------------------

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const ServerOptions& o) {
  if (o.tls_cert_pem.empty() && o.tls_key_pem.empty()) {
    return grpc::InsecureServerCredentials();
  }
  if (o.tls_cert_pem.empty() || o.tls_key_pem.empty()) {
    return Invalid("TLS needs both a certificate and a private key");
  }
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({o.tls_key_pem, o.tls_cert_pem});
  return grpc::SslServerCredentials(ssl);
}

class ServerImpl final : public Server {
 public:
  ServerImpl(Database* db, const ServerOptions& options)
      : shared_(db, options),
        collections_(&shared_),
        points_(&shared_),
        snapshots_(&shared_, options.snapshot_dir.empty()
                                 ? (fs::path(db->dir()) / "snapshots").string()
                                 : options.snapshot_dir) {}

  ~ServerImpl() override { Shutdown(absl::ZeroDuration()); }

  absl::Status Init() {
    const ServerOptions& o = shared_.options();
    TQ_ASSIGN_OR_RETURN(auto creds, Credentials(o));
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder b;
    b.AddListeningPort(o.listen, creds, &port_);
    b.SetMaxReceiveMessageSize(
        static_cast<int>(std::min<size_t>(o.max_receive_bytes, INT32_MAX)));
    b.RegisterService(&collections_);
    b.RegisterService(&points_);
    b.RegisterService(&snapshots_);
    server_ = b.BuildAndStart();
    if (!server_ || port_ == 0) {
      server_.reset();
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", o.listen,
                       " (address in use, or not a valid host:port)"));
    }
    grpc::HealthCheckServiceInterface* h = server_->GetHealthCheckService();
    if (h != nullptr) {
      for (const char* svc :
           {"tqdb.v1.Collections", "tqdb.v1.Points", "tqdb.v1.Snapshots"}) {
        h->SetServingStatus(svc, true);
      }
    }
    const std::string& l = o.listen;
    const size_t colon = l.rfind(':');
    address_ = absl::StrCat(l.substr(0, colon), ":", port_);
    return absl::OkStatus();
  }

  int port() const override { return port_; }
  std::string address() const override { return address_; }

  void Shutdown(absl::Duration grace) override {
    std::lock_guard<std::mutex> l(shutdown_mu_);
    if (!server_ || shut_down_) return;
    if (grpc::HealthCheckServiceInterface* h =
            server_->GetHealthCheckService()) {
      h->SetServingStatus(false);
    }
    server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
    shut_down_ = true;
  }

  void Wait() override {
    if (server_) server_->Wait();
  }

 private:
  Shared shared_;
  CollectionsService collections_;
  PointsService points_;
  SnapshotsService snapshots_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string address_;
  std::mutex shutdown_mu_;
  bool shut_down_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    Database* db, const ServerOptions& options) {
  if (db == nullptr) return Invalid("Server::Start: no database");
  if (options.max_limit == 0) return Invalid("max_limit must be >= 1");
  auto s = std::make_unique<ServerImpl>(db, options);
  TQ_RETURN_IF_ERROR(s->Init());
  return std::unique_ptr<Server>(std::move(s));
}

}  // namespace tqdb
