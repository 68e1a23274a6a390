#include "rpc/points_service.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "quant/status_macros.h"
#include "rpc/convert.h"
#include "rpc/filter_convert.h"
#include "rpc/formula_search.h"
#include "rpc/hybrid_search.h"
#include "rpc/payload_selection.h"
#include "rpc/search_groups.h"
#include "rpc/validate.h"

namespace tqdb {
namespace {

namespace pb = ::tqdb::v1;

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
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
    std::mutex poll_mu;  // only tried: one poller at a time
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

// The options of one search request, polling the call for cancellation
// with `cancelled` (the call's CancelCheck, one for all its searches); with
// metrics, what the search did goes to *stats.
absl::StatusOr<QueryOptions> Options(const pb::SearchRequest& q,
                                     const std::function<bool()>& cancelled,
                                     SearchStats* stats) {
  QueryOptions o = FromProto(q);
  TQ_ASSIGN_OR_RETURN(o.filter, OptionalFilter(q.has_filter(), q.filter()));
  o.cancelled = cancelled;
  o.stats = stats;
  return o;
}

// The points a request names: its ids or its filter.
template <typename Request>
absl::StatusOr<PointSelector> SelectorOf(const Request& req) {
  PointSelector sel;
  sel.ids.assign(req.ids().begin(), req.ids().end());
  if (req.has_filter()) {
    TQ_ASSIGN_OR_RETURN(Filter f, FromProto(req.filter()));
    sel.filter = std::make_shared<const Filter>(std::move(f));
  }
  return sel;
}

// The shape every payload update shares: the collection, the request's
// checks, the points it names, the edit, the count.
template <typename Request, typename Edit>
absl::Status UpdatePayloads(const ServiceContext& context, const Request& req,
                            absl::Status (*validate)(const Request&), Edit edit,
                            pb::PayloadUpdateResponse* resp) {
  TQ_ASSIGN_OR_RETURN(auto c, context.GetCollection(req.collection()));
  TQ_RETURN_IF_ERROR(validate(req));
  TQ_ASSIGN_OR_RETURN(PointSelector sel, SelectorOf(req));
  TQ_ASSIGN_OR_RETURN(size_t n, edit(*c, sel));
  resp->set_updated(n);
  return absl::OkStatus();
}

// The hits past the offset under the threshold, then their vectors and
// payloads.
absl::Status Fill(const pb::SearchRequest& q, const Collection& c,
                  const std::vector<Neighbor>& hits, pb::SearchResponse* out) {
  const bool l2 = LowerIsBetter(q, c.config().metric);
  out->mutable_points()->Reserve(static_cast<int>(hits.size()));
  for (size_t i = q.offset(); i < hits.size(); ++i) {
    const Neighbor& h = hits[i];
    if (q.has_score_threshold() &&
        (l2 ? h.score > q.score_threshold() : h.score < q.score_threshold())) {
      continue;
    }
    ToProto(h, out->add_points());
  }
  return AttachRecords(c, q.with_vectors(), q.with_payload(),
                       q.payload_selector(), out->mutable_points());
}

// A batch the database can run in one call (over its threads): every
// search with the same limit, offset, params and filter (evaluated once for
// all), and vectors of the collection's dimension (so that they pack into
// one array); no search by example, no sparse vectors, no formula.
bool Uniform(const pb::SearchBatchRequest& req, uint32_t dim) {
  const pb::SearchRequest& first = req.searches(0);
  const std::string params = first.params().SerializeAsString();
  const std::string filter = first.filter().SerializeAsString();
  for (const pb::SearchRequest& q : req.searches()) {
    if (q.limit() != first.limit() || q.offset() != first.offset() ||
        q.vector_size() != static_cast<int>(dim) || IsByExample(q) ||
        HasSparse(q) || q.has_formula() ||
        q.params().SerializeAsString() != params ||
        q.has_filter() != first.has_filter() ||
        q.filter().SerializeAsString() != filter) {
      return false;
    }
  }
  return true;
}

// Runs fn(i) for every i < n on up to `threads` threads (0: one a core),
// the calling thread among them, each taking the next i. Threads the
// system refuses leave the work to those running.
void ForEachSearch(int n, uint32_t threads,
                   const std::function<void(int)>& fn) {
  const unsigned cores =
      threads != 0 ? threads
                   : std::max(1u, std::thread::hardware_concurrency());
  const int workers = static_cast<int>(
      std::min<unsigned>(cores, static_cast<unsigned>(std::max(n, 1))));
  std::atomic<int> next{0};
  auto run = [&] {
    for (int i = next.fetch_add(1); i < n; i = next.fetch_add(1)) fn(i);
  };
  std::vector<std::thread> pool;
  for (int w = 1; w < workers; ++w) {
    try {
      pool.emplace_back(run);
    } catch (const std::system_error&) {
      break;
    }
  }
  run();
  for (std::thread& t : pool) t.join();
}

}  // namespace

PointsService::PointsService(const ServiceContext* context)
    : context_(context) {
  SetMessageAllocatorFor_Search(&search_alloc_);
  SetMessageAllocatorFor_SearchBatch(&batch_alloc_);
}

grpc::Status PointsService::Upsert(grpc::ServerContext* ctx,
                                   const pb::UpsertRequest* req,
                                   pb::UpsertResponse* resp) {
  const auto t0 = Clock::now();
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_ASSIGN_OR_RETURN(auto c, context_->GetCollection(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateUpsert(*req));
    const std::vector<Point> points = FromProto(req->points());
    TQ_RETURN_IF_ERROR(c->Upsert(points, req->wait()));
    if (Metrics* m = context_->metrics()) {
      m->RecordIngest(points.size(), req->ByteSizeLong());
    }
    resp->set_upserted(points.size());
    resp->set_batches(1);
    resp->set_time_ms(MsSince(t0));
    return absl::OkStatus();
  });
}

grpc::Status PointsService::UpdateVectors(grpc::ServerContext* ctx,
                                          const pb::UpdateVectorsRequest* req,
                                          pb::UpdateVectorsResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_ASSIGN_OR_RETURN(auto c, context_->GetCollection(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateUpdateVectors(*req));
    TQ_ASSIGN_OR_RETURN(
        const size_t n,
        c->UpdateVectors(FromProto(req->points()), req->wait()));
    resp->set_updated(n);
    return absl::OkStatus();
  });
}

grpc::Status PointsService::UpsertStream(
    grpc::ServerContext* ctx, grpc::ServerReader<pb::UpsertRequest>* reader,
    pb::UpsertResponse* resp) {
  const auto t0 = Clock::now();
  return context_->Call(ctx, [&]() -> absl::Status {
    pb::UpsertRequest req;
    uint64_t batches = 0, points_done = 0;
    std::string name;
    std::shared_ptr<Collection> c;
    // The batch that failed, and what the stream stored before it.
    auto fail = [&](const absl::Status& s) {
      const absl::Status in_batch = WithContext(s, "batch ", batches);
      return absl::Status(
          in_batch.code(),
          absl::StrCat(in_batch.message(), " (", batches, " batches, ",
                       points_done, " points before it were stored)"));
    };
    while (reader->Read(&req)) {
      if (ctx->IsCancelled()) {
        return fail(absl::CancelledError("stream cancelled"));
      }
      if (!c || req.collection() != name) {
        auto got = context_->GetCollection(req.collection());
        if (!got.ok()) return fail(got.status());
        c = *got;
        name = req.collection();
      }
      if (absl::Status s = ValidateUpsert(req); !s.ok()) return fail(s);
      const std::vector<Point> points = FromProto(req.points());
      if (absl::Status s = c->Upsert(points, req.wait()); !s.ok()) {
        return fail(s);
      }
      if (Metrics* m = context_->metrics()) {
        m->RecordIngest(points.size(), req.ByteSizeLong());
      }
      ++batches;
      points_done += points.size();
    }
    resp->set_upserted(points_done);
    resp->set_batches(batches);
    resp->set_time_ms(MsSince(t0));
    return absl::OkStatus();
  });
}

grpc::Status PointsService::Get(grpc::ServerContext* ctx,
                                const pb::GetPointsRequest* req,
                                pb::GetPointsResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_ASSIGN_OR_RETURN(auto c, context_->GetCollection(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateGet(*req));
    std::vector<uint64_t> ids(req->ids().begin(), req->ids().end());
    TQ_ASSIGN_OR_RETURN(std::vector<Record> recs,
                        c->Get(ids, req->with_vectors(), req->with_payload()));
    for (Record& r : recs) ToProto(std::move(r), resp->add_points());
    return SelectPayloads(req->payload_selector(), resp->mutable_points());
  });
}

grpc::Status PointsService::Delete(grpc::ServerContext* ctx,
                                   const pb::DeletePointsRequest* req,
                                   pb::DeletePointsResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_ASSIGN_OR_RETURN(auto c, context_->GetCollection(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateDelete(*req));
    size_t n;
    if (req->has_filter()) {
      TQ_ASSIGN_OR_RETURN(PointSelector sel, SelectorOf(*req));
      TQ_ASSIGN_OR_RETURN(n, c->DeletePoints(sel, req->wait()));
    } else {
      std::vector<uint64_t> ids(req->ids().begin(), req->ids().end());
      TQ_ASSIGN_OR_RETURN(n, c->Delete(ids, req->wait()));
    }
    resp->set_deleted(n);
    return absl::OkStatus();
  });
}

grpc::Status PointsService::Count(grpc::ServerContext* ctx,
                                  const pb::CountRequest* req,
                                  pb::CountResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_ASSIGN_OR_RETURN(auto c, context_->GetCollection(req->collection()));
    TQ_ASSIGN_OR_RETURN(std::shared_ptr<const Filter> f,
                        OptionalFilter(req->has_filter(), req->filter()));
    if (f == nullptr) {
      resp->set_count(c->Count());
      return absl::OkStatus();
    }
    TQ_ASSIGN_OR_RETURN(CountResult r, c->Count(*f));
    resp->set_count(r.count);
    for (const std::string& k : r.unindexed_fields) {
      resp->add_unindexed_fields(k);
    }
    context_->LogUnindexed(req->collection(), "count", r.unindexed_fields);
    return absl::OkStatus();
  });
}

grpc::Status PointsService::Facet(grpc::ServerContext* ctx,
                                  const pb::FacetRequest* req,
                                  pb::FacetResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_ASSIGN_OR_RETURN(auto c, context_->GetCollection(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateFacet(*req, context_->options()));
    FacetOptions o;
    o.key = req->key();
    TQ_ASSIGN_OR_RETURN(o.filter,
                        OptionalFilter(req->has_filter(), req->filter()));
    o.limit = req->limit() == 0 ? 10 : req->limit();
    TQ_ASSIGN_OR_RETURN(FacetResult r, c->Facet(o));
    for (const FacetHit& h : r.hits) ToProto(h, resp->add_hits());
    for (const std::string& k : r.unindexed_fields) {
      resp->add_unindexed_fields(k);
    }
    context_->LogUnindexed(req->collection(), "facet", r.unindexed_fields);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* PointsService::Search(
    grpc::CallbackServerContext* ctx, const pb::SearchRequest* req,
    pb::SearchResponse* resp) {
  grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
  r->Finish(DoSearch(ctx, req, resp));
  return r;
}

grpc::ServerUnaryReactor* PointsService::SearchBatch(
    grpc::CallbackServerContext* ctx, const pb::SearchBatchRequest* req,
    pb::SearchBatchResponse* resp) {
  grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
  r->Finish(DoSearchBatch(ctx, req, resp));
  return r;
}

grpc::Status PointsService::DoSearch(grpc::ServerContextBase* ctx,
                                     const pb::SearchRequest* req,
                                     pb::SearchResponse* resp) const {
  const auto t0 = Clock::now();
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_ASSIGN_OR_RETURN(auto c, context_->GetCollection(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateSearch(*req, context_->options()));
    const std::function<bool()> cancelled = CancelCheck(ctx);
    auto plain = [&](const pb::SearchRequest& q,
                     pb::SearchResponse* r) -> absl::Status {
      Metrics* m = context_->metrics();
      SearchStats stats;
      TQ_ASSIGN_OR_RETURN(QueryOptions o,
                          Options(q, cancelled, m ? &stats : nullptr));
      SearchInfo info;
      o.info = &info;
      TQ_ASSIGN_OR_RETURN(std::vector<Neighbor> hits, SearchLocal(*c, q, o));
      if (m) m->RecordSearch(1, stats);
      TQ_RETURN_IF_ERROR(Fill(q, *c, hits, r));
      ToProto(info, r);
      context_->LogUnindexed(req->collection(), "search",
                             info.unindexed_fields);
      return absl::OkStatus();
    };
    // A formula rescores the plain search's best points.
    auto search = [&](const pb::SearchRequest& q,
                      pb::SearchResponse* r) -> absl::Status {
      if (!q.has_formula()) return plain(q, r);
      TQ_ASSIGN_OR_RETURN(
          *r, SearchByFormula(q,
                              [&](const pb::SearchRequest& p)
                                  -> absl::StatusOr<pb::SearchResponse> {
                                pb::SearchResponse out;
                                TQ_RETURN_IF_ERROR(plain(p, &out));
                                return out;
                              }));
      return absl::OkStatus();
    };
    if (req->group_by().empty()) {
      TQ_RETURN_IF_ERROR(search(*req, resp));
    } else {
      TQ_RETURN_IF_ERROR(SearchGroups(
          *req, context_->options().max_limit,
          [&](const pb::SearchRequest& q)
              -> absl::StatusOr<pb::SearchResponse> {
            pb::SearchResponse r;
            TQ_RETURN_IF_ERROR(search(q, &r));
            return r;
          },
          resp));
    }
    resp->set_time_ms(MsSince(t0));
    return absl::OkStatus();
  });
}

grpc::Status PointsService::DoSearchBatch(grpc::ServerContextBase* ctx,
                                          const pb::SearchBatchRequest* req,
                                          pb::SearchBatchResponse* resp) const {
  const auto t0 = Clock::now();
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_ASSIGN_OR_RETURN(auto c, context_->GetCollection(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateSearchBatch(*req, context_->options()));
    const int n = req->searches_size();
    const uint32_t d = c->config().dim;
    Metrics* m = context_->metrics();
    std::vector<SearchStats> stats(m ? n : 0);
    std::vector<std::vector<Neighbor>> hits;
    std::vector<SearchInfo> infos(n);
    std::vector<std::optional<pb::SearchResponse>> answered(n);
    if (Uniform(*req, d)) {
      // One call: the database spreads the queries over its threads.
      std::vector<float> all(size_t{d} * n);
      for (int i = 0; i < n; ++i) {
        std::copy(req->searches(i).vector().begin(),
                  req->searches(i).vector().end(), all.begin() + size_t{d} * i);
      }
      auto opts = Options(req->searches(0), CancelCheck(ctx),
                          m ? stats.data() : nullptr);
      TQ_RETURN_IF_ERROR(opts.status()) << "search 0";
      QueryOptions o = *std::move(opts);
      o.info = infos.data();
      TQ_ASSIGN_OR_RETURN(hits, c->SearchBatch(all, o));
    } else {
      // Searches that differ (limits, filters, sparse, by example,
      // formulas): each on its own, spread over the batch's threads, with
      // one cancellation poll for the call.
      hits.resize(n);
      std::vector<absl::Status> failed(n);
      const std::function<bool()> cancelled = CancelCheck(ctx);
      auto one = [&](int i) -> absl::Status {
        const pb::SearchRequest& q = req->searches(i);
        // One plain search (a formula's at its own depth) to its hits.
        auto plain = [&](const pb::SearchRequest& p)
            -> absl::StatusOr<std::vector<Neighbor>> {
          TQ_ASSIGN_OR_RETURN(QueryOptions o,
                              Options(p, cancelled, m ? &stats[i] : nullptr));
          o.info = &infos[i];
          return SearchLocal(*c, p, o);
        };
        if (!q.has_formula()) {
          TQ_ASSIGN_OR_RETURN(hits[i], plain(q));
          return absl::OkStatus();
        }
        // Answered whole here: the formula needs the filled points.
        auto r = SearchByFormula(q,
                                 [&](const pb::SearchRequest& p)
                                     -> absl::StatusOr<pb::SearchResponse> {
                                   TQ_ASSIGN_OR_RETURN(
                                       std::vector<Neighbor> found, plain(p));
                                   pb::SearchResponse out;
                                   TQ_RETURN_IF_ERROR(Fill(p, *c, found, &out));
                                   return out;
                                 });
        TQ_RETURN_IF_ERROR(r.status());
        answered[i] = *std::move(r);
        return absl::OkStatus();
      };
      ForEachSearch(n, context_->options().search_threads,
                    [&](int i) { failed[i] = one(i); });
      for (int i = 0; i < n; ++i) {
        TQ_RETURN_IF_ERROR(failed[i]) << "search " << i;
      }
    }
    if (m) m->RecordSearch(n, SumStats(stats));
    resp->mutable_results()->Reserve(n);
    for (int i = 0; i < n; ++i) {
      pb::SearchResponse* out = resp->add_results();
      if (answered[i].has_value()) *out = *std::move(answered[i]);
      TQ_RETURN_IF_ERROR(answered[i].has_value()
                             ? absl::OkStatus()
                             : Fill(req->searches(i), *c, hits[i], out));
      ToProto(infos[i], out);
      context_->LogUnindexed(req->collection(), "search",
                             infos[i].unindexed_fields);
    }
    resp->set_time_ms(MsSince(t0));
    return absl::OkStatus();
  });
}

grpc::Status PointsService::Scroll(grpc::ServerContext* ctx,
                                   const pb::ScrollRequest* req,
                                   pb::ScrollResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_ASSIGN_OR_RETURN(auto c, context_->GetCollection(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateScroll(*req, context_->options()));
    TQ_ASSIGN_OR_RETURN(const ScrollOptions o, FromProto(*req));
    TQ_ASSIGN_OR_RETURN(ScrollPage page, c->Scroll(o));
    context_->LogUnindexed(req->collection(), "scroll", page.unindexed_fields);
    ToProto(std::move(page), o.order_by.has_value(), resp);
    return SelectPayloads(req->payload_selector(), resp->mutable_points());
  });
}

grpc::Status PointsService::SetPayload(grpc::ServerContext* ctx,
                                       const pb::SetPayloadRequest* req,
                                       pb::PayloadUpdateResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    return UpdatePayloads(
        *context_, *req, &ValidateSetPayload,
        [&](Collection& c, const PointSelector& sel) {
          return c.SetPayload(sel, req->payload(), req->wait());
        },
        resp);
  });
}

grpc::Status PointsService::OverwritePayload(grpc::ServerContext* ctx,
                                             const pb::SetPayloadRequest* req,
                                             pb::PayloadUpdateResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    return UpdatePayloads(
        *context_, *req, &ValidateSetPayload,
        [&](Collection& c, const PointSelector& sel) {
          return c.OverwritePayload(sel, req->payload(), req->wait());
        },
        resp);
  });
}

grpc::Status PointsService::DeletePayloadKeys(
    grpc::ServerContext* ctx, const pb::DeletePayloadKeysRequest* req,
    pb::PayloadUpdateResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    const std::vector<std::string> keys(req->keys().begin(), req->keys().end());
    return UpdatePayloads(
        *context_, *req, &ValidateDeletePayloadKeys,
        [&](Collection& c, const PointSelector& sel) {
          return c.DeletePayloadKeys(sel, keys, req->wait());
        },
        resp);
  });
}

}  // namespace tqdb
