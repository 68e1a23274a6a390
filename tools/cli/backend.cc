// Backend over gRPC (proto/tqdb/v1) or over an embedded db::Database.
#include "tools/cli/backend.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "quant/status_macros.h"
#include "rpc/convert.h"
#include "rpc/filter_convert.h"
#include "rpc/formula_search.h"
#include "rpc/hybrid_search.h"
#include "rpc/search_groups.h"
#include "rpc/server.h"
#include "rpc/validate.h"
#include "tqdb/v1/collections.grpc.pb.h"
#include "tqdb/v1/points.grpc.pb.h"
#include "tqdb/v1/snapshots.grpc.pb.h"

namespace tqdb {
namespace {

namespace pb = ::tqdb::v1;

pb::SearchRequest SearchRequestOf(const std::string& collection,
                                  absl::Span<const float> query,
                                  const QueryOptions& o) {
  pb::SearchRequest req;
  req.set_collection(collection);
  req.mutable_vector()->Add(query.begin(), query.end());
  ToProto(o, &req);
  return req;
}

void AddSparse(const SparseSearch& s, pb::SearchRequest* req) {
  if (s.text.empty()) {
    ToProto(s.vector, req->mutable_sparse_vector());
  } else {
    req->set_text(s.text);
  }
  req->set_sparse_idf(s.idf);
  if (req->vector_size() == 0) return;
  req->set_fusion(s.fusion == Fusion::kDbsf ? pb::FUSION_DBSF : pb::FUSION_RRF);
  if (s.rrf_k.has_value()) req->set_rrf_k(*s.rrf_k);
  req->set_prefetch_limit(s.prefetch_limit);
}

void AddFormula(const FormulaSearch& f, pb::SearchRequest* req) {
  ToProto(f.formula, req->mutable_formula());
  req->set_prefetch_limit(std::max(req->prefetch_limit(), f.prefetch_limit));
}

std::vector<HitGroup> GroupsFromProto(const pb::SearchResponse& r) {
  std::vector<HitGroup> groups;
  for (const pb::PointGroup& g : r.groups()) {
    HitGroup& hg = groups.emplace_back();
    hg.value = g.value_case() == pb::PointGroup::kKeyword
                   ? g.keyword()
                   : absl::StrCat(g.integer());
    for (const pb::ScoredPoint& p : g.hits()) {
      hg.hits.push_back({p.id(), p.score(), p.payload()});
    }
  }
  return groups;
}

// ---------------------------------------------------------------------------
// Remote

class RemoteIngest final : public Ingest {
 public:
  RemoteIngest(pb::Points::Stub* stub, std::string collection, bool wait,
               std::string auth)
      : collection_(std::move(collection)), wait_(wait) {
    if (!auth.empty()) ctx_.AddMetadata("authorization", auth);
    writer_ = stub->UpsertStream(&ctx_, &resp_);
  }
  ~RemoteIngest() override {
    if (!finished_) Finish().IgnoreError();
  }

  absl::Status Send(std::vector<Point> batch) override {
    pb::UpsertRequest req;
    req.set_collection(collection_);
    req.set_wait(wait_);
    for (Point& p : batch) ToProto(std::move(p), req.add_points());
    if (!writer_->Write(req)) {
      // The server ended the stream: Finish() has its reason.
      auto r = Finish();
      return r.ok() ? absl::UnavailableError("the server closed the stream")
                    : r.status();
    }
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Finish() override {
    if (finished_)
      return status_.ok() ? absl::StatusOr<uint64_t>(stored_)
                          : absl::StatusOr<uint64_t>(status_);
    finished_ = true;
    writer_->WritesDone();
    status_ = FromGrpc(writer_->Finish());
    stored_ = resp_.upserted();
    if (!status_.ok()) return status_;
    return stored_;
  }

 private:
  grpc::ClientContext ctx_;
  pb::UpsertResponse resp_;
  std::unique_ptr<grpc::ClientWriter<pb::UpsertRequest>> writer_;
  const std::string collection_;
  const bool wait_;
  bool finished_ = false;
  absl::Status status_;
  uint64_t stored_ = 0;
};

class RemoteBackend final : public Backend {
 public:
  explicit RemoteBackend(ServerChannel server)
      : server_(std::move(server)),
        collections_(pb::Collections::NewStub(server_.channel)),
        points_(pb::Points::NewStub(server_.channel)) {}

  absl::StatusOr<CollectionInfo> Create(const CollectionConfig& c) override {
    pb::CreateCollectionRequest req;
    TQ_RETURN_IF_ERROR(ToProto(c, &req));
    pb::CollectionInfo resp;
    auto ctx = Context();
    TQ_RETURN_IF_ERROR(FromGrpc(collections_->Create(ctx.get(), req, &resp)));
    return FromProto(resp);
  }

  absl::StatusOr<CollectionInfo> Info(const std::string& name) override {
    pb::GetCollectionRequest req;
    req.set_name(name);
    pb::CollectionInfo resp;
    auto ctx = Context();
    TQ_RETURN_IF_ERROR(FromGrpc(collections_->Get(ctx.get(), req, &resp)));
    return FromProto(resp);
  }

  absl::StatusOr<std::vector<CollectionInfo>> List() override {
    pb::ListCollectionsResponse resp;
    auto ctx = Context();
    TQ_RETURN_IF_ERROR(FromGrpc(
        collections_->List(ctx.get(), pb::ListCollectionsRequest(), &resp)));
    std::vector<CollectionInfo> out;
    for (const auto& c : resp.collections()) out.push_back(FromProto(c));
    return out;
  }

  absl::Status Drop(const std::string& name) override {
    pb::DeleteCollectionRequest req;
    req.set_name(name);
    pb::DeleteCollectionResponse resp;
    auto ctx = Context();
    return FromGrpc(collections_->Delete(ctx.get(), req, &resp));
  }

  absl::StatusOr<CollectionInfo> Train(const std::string& name,
                                       bool if_outgrown) override {
    pb::TrainCollectionRequest req;
    req.set_name(name);
    pb::CollectionInfo resp;
    {
      auto ctx = Context();
      TQ_RETURN_IF_ERROR(FromGrpc(collections_->Train(ctx.get(), req, &resp)));
    }
    if (if_outgrown && resp.retrain_recommended()) {
      req.set_retrain(true);
      auto ctx = Context();
      TQ_RETURN_IF_ERROR(FromGrpc(collections_->Train(ctx.get(), req, &resp)));
    }
    return FromProto(resp);
  }

  absl::StatusOr<std::unique_ptr<Ingest>> StartIngest(
      const std::string& collection, bool wait) override {
    return std::unique_ptr<Ingest>(new RemoteIngest(
        points_.get(), collection, wait, server_.authorization));
  }

  absl::StatusOr<std::vector<Hit>> Search(
      const std::string& collection, absl::Span<const float> query,
      const QueryOptions& o, bool with_payload, SearchInfo* info,
      const SparseSearch* sparse, const FormulaSearch* formula) override {
    pb::SearchRequest req = SearchRequestOf(collection, query, o);
    if (sparse != nullptr) AddSparse(*sparse, &req);
    if (formula != nullptr) AddFormula(*formula, &req);
    req.set_with_payload(with_payload);
    pb::SearchResponse resp;
    auto ctx = Context();
    TQ_RETURN_IF_ERROR(FromGrpc(points_->Search(ctx.get(), req, &resp)));
    std::vector<Hit> hits;
    for (const auto& p : resp.points()) {
      hits.push_back({p.id(), p.score(), p.payload()});
    }
    if (info != nullptr) *info = PlanFromProto(resp);
    return hits;
  }

  absl::StatusOr<std::vector<HitGroup>> SearchGroups(
      const std::string& collection, absl::Span<const float> query,
      const QueryOptions& o, const std::string& group_by, uint32_t group_size,
      const SparseSearch* sparse, const FormulaSearch* formula) override {
    pb::SearchRequest req = SearchRequestOf(collection, query, o);
    if (sparse != nullptr) AddSparse(*sparse, &req);
    if (formula != nullptr) AddFormula(*formula, &req);
    req.set_with_payload(true);
    req.set_group_by(group_by);
    req.set_group_size(group_size);
    pb::SearchResponse resp;
    auto ctx = Context();
    TQ_RETURN_IF_ERROR(FromGrpc(points_->Search(ctx.get(), req, &resp)));
    return GroupsFromProto(resp);
  }

  absl::StatusOr<CountResult> Count(
      const std::string& collection,
      const std::shared_ptr<const Filter>& filter) override {
    pb::CountRequest req;
    req.set_collection(collection);
    if (filter != nullptr) ToProto(*filter, req.mutable_filter());
    pb::CountResponse resp;
    auto ctx = Context();
    TQ_RETURN_IF_ERROR(FromGrpc(points_->Count(ctx.get(), req, &resp)));
    CountResult r;
    r.count = resp.count();
    r.unindexed_fields.assign(resp.unindexed_fields().begin(),
                              resp.unindexed_fields().end());
    return r;
  }

  absl::StatusOr<FacetResult> Facet(const std::string& collection,
                                    const FacetOptions& o) override {
    pb::FacetRequest req;
    req.set_collection(collection);
    req.set_key(o.key);
    req.set_limit(static_cast<uint32_t>(o.limit));
    if (o.filter != nullptr) ToProto(*o.filter, req.mutable_filter());
    pb::FacetResponse resp;
    auto ctx = Context();
    TQ_RETURN_IF_ERROR(FromGrpc(points_->Facet(ctx.get(), req, &resp)));
    FacetResult r;
    for (const pb::FacetHit& h : resp.hits()) r.hits.push_back(FromProto(h));
    r.unindexed_fields.assign(resp.unindexed_fields().begin(),
                              resp.unindexed_fields().end());
    return r;
  }

  absl::StatusOr<ScrollPage> Scroll(const std::string& collection,
                                    const ScrollOptions& o) override {
    pb::ScrollRequest req;
    req.set_collection(collection);
    ToProto(o, &req);
    pb::ScrollResponse resp;
    auto ctx = Context();
    TQ_RETURN_IF_ERROR(FromGrpc(points_->Scroll(ctx.get(), req, &resp)));
    return FromProto(resp);
  }

  absl::StatusOr<FieldIndexInfo> CreateFieldIndex(const std::string& collection,
                                                  const std::string& field,
                                                  FieldType type) override {
    pb::CreateFieldIndexRequest req;
    req.set_collection(collection);
    req.set_field(field);
    req.set_type(FieldTypeToProto(type));
    req.set_wait(true);
    pb::PayloadIndexInfo resp;
    auto ctx = Context();
    TQ_RETURN_IF_ERROR(
        FromGrpc(collections_->CreateFieldIndex(ctx.get(), req, &resp)));
    return FromProto(resp);
  }

  absl::Status DeleteFieldIndex(const std::string& collection,
                                const std::string& field) override {
    pb::DeleteFieldIndexRequest req;
    req.set_collection(collection);
    req.set_field(field);
    pb::DeleteFieldIndexResponse resp;
    auto ctx = Context();
    return FromGrpc(collections_->DeleteFieldIndex(ctx.get(), req, &resp));
  }

  absl::Status UpdateAliases(const std::vector<AliasChange>& changes) override {
    pb::UpdateAliasesRequest req;
    for (const AliasChange& ch : changes) {
      pb::AliasOperation* op = req.add_actions();
      if (ch.kind == AliasChange::Kind::kCreate) {
        op->mutable_create_alias()->set_alias(ch.alias);
        op->mutable_create_alias()->set_collection(ch.collection);
      } else {
        op->mutable_delete_alias()->set_alias(ch.alias);
      }
    }
    pb::UpdateAliasesResponse resp;
    auto ctx = Context();
    return FromGrpc(collections_->UpdateAliases(ctx.get(), req, &resp));
  }

  absl::StatusOr<std::map<std::string, std::string>> ListAliases() override {
    pb::ListAliasesResponse resp;
    auto ctx = Context();
    TQ_RETURN_IF_ERROR(FromGrpc(
        collections_->ListAliases(ctx.get(), pb::ListAliasesRequest(), &resp)));
    std::map<std::string, std::string> out;
    for (const auto& a : resp.aliases()) out[a.alias()] = a.collection();
    return out;
  }

  absl::Status Close() override { return absl::OkStatus(); }
  std::string Describe() const override { return "server " + server_.address; }

 private:
  std::unique_ptr<grpc::ClientContext> Context() const {
    return server_.Context();
  }

  const ServerChannel server_;
  std::unique_ptr<pb::Collections::Stub> collections_;
  std::unique_ptr<pb::Points::Stub> points_;
};

// ---------------------------------------------------------------------------
// Embedded

class EmbeddedIngest final : public Ingest {
 public:
  EmbeddedIngest(std::shared_ptr<Collection> c, bool wait)
      : c_(std::move(c)), wait_(wait) {}
  absl::Status Send(std::vector<Point> batch) override {
    TQ_RETURN_IF_ERROR(c_->Upsert(batch, wait_));
    stored_ += batch.size();
    return absl::OkStatus();
  }
  absl::StatusOr<uint64_t> Finish() override { return stored_; }

 private:
  std::shared_ptr<Collection> c_;
  const bool wait_;
  uint64_t stored_ = 0;
};

class EmbeddedBackend final : public Backend {
 public:
  explicit EmbeddedBackend(std::unique_ptr<Database> db) : db_(std::move(db)) {}
  ~EmbeddedBackend() override { Close().IgnoreError(); }

  absl::StatusOr<CollectionInfo> Create(const CollectionConfig& c) override {
    return db_->CreateCollection(c);
  }
  absl::StatusOr<CollectionInfo> Info(const std::string& name) override {
    TQ_ASSIGN_OR_RETURN(auto c, db_->GetCollection(name));
    return c->Info();
  }
  absl::StatusOr<std::vector<CollectionInfo>> List() override {
    std::vector<CollectionInfo> out;
    for (const std::string& n : db_->ListCollections()) {
      TQ_ASSIGN_OR_RETURN(CollectionInfo i, Info(n));
      out.push_back(std::move(i));
    }
    return out;
  }
  absl::Status Drop(const std::string& name) override {
    return db_->DropCollection(name);
  }
  absl::StatusOr<CollectionInfo> Train(const std::string& name,
                                       bool if_outgrown) override {
    TQ_ASSIGN_OR_RETURN(auto c, db_->GetCollection(name));
    c->WaitForTraining();
    TQ_RETURN_IF_ERROR(c->Train());
    TQ_ASSIGN_OR_RETURN(CollectionInfo info, c->Info());
    if (if_outgrown && info.retrain_recommended) {
      TQ_RETURN_IF_ERROR(c->Retrain());
      TQ_ASSIGN_OR_RETURN(info, c->Info());
    }
    return info;
  }
  absl::StatusOr<std::unique_ptr<Ingest>> StartIngest(
      const std::string& collection, bool wait) override {
    TQ_ASSIGN_OR_RETURN(auto c, db_->GetCollection(collection));
    return std::unique_ptr<Ingest>(new EmbeddedIngest(std::move(c), wait));
  }
  absl::StatusOr<std::vector<Hit>> Search(
      const std::string& collection, absl::Span<const float> query,
      const QueryOptions& options, bool with_payload, SearchInfo* info,
      const SparseSearch* sparse, const FormulaSearch* formula) override {
    if (formula != nullptr) {
      return SearchRescored(collection, query, options, with_payload, info,
                            sparse, *formula);
    }
    TQ_ASSIGN_OR_RETURN(auto c, db_->GetCollection(collection));
    QueryOptions o = options;
    o.info = info;
    std::vector<Neighbor> ns;
    if (sparse != nullptr) {
      // As a server runs it (the request's rules checked as it checks them).
      pb::SearchRequest req = SearchRequestOf(collection, query, o);
      AddSparse(*sparse, &req);
      TQ_RETURN_IF_ERROR(ValidateSearch(req, ServerOptions()));
      TQ_ASSIGN_OR_RETURN(ns, SearchLocal(*c, req, o));
    } else {
      TQ_ASSIGN_OR_RETURN(ns, c->Search(query, o));
    }
    std::vector<Hit> hits;
    std::vector<uint64_t> ids;
    for (const Neighbor& n : ns) {
      hits.push_back({n.id, n.score, ""});
      ids.push_back(n.id);
    }
    if (with_payload && !ids.empty()) {
      TQ_ASSIGN_OR_RETURN(std::vector<Record> recs, c->Get(ids, false, true));
      for (const Record& r : recs) {
        for (Hit& h : hits) {
          if (h.id == r.id) h.payload = r.payload;
        }
      }
    }
    return hits;
  }
  // The server's grouping (rpc/search_groups.h) over this database's
  // searches, as deep as a server's default --max-limit.
  absl::StatusOr<std::vector<HitGroup>> SearchGroups(
      const std::string& collection, absl::Span<const float> query,
      const QueryOptions& options, const std::string& group_by,
      uint32_t group_size, const SparseSearch* sparse,
      const FormulaSearch* formula) override {
    pb::SearchRequest req;
    req.set_limit(options.k);
    req.set_with_payload(true);
    req.set_group_by(group_by);
    req.set_group_size(group_size);
    pb::SearchResponse resp;
    TQ_RETURN_IF_ERROR(::tqdb::SearchGroups(
        req, ServerOptions().max_limit,
        [&](const pb::SearchRequest& q) -> absl::StatusOr<pb::SearchResponse> {
          QueryOptions o = options;
          o.k = q.limit();
          // A deeper round goes at least as deep in each hybrid search (as
          // a server's PrefetchOf).
          std::optional<SparseSearch> deeper;
          if (sparse != nullptr) {
            deeper = *sparse;
            if (deeper->prefetch_limit != 0) {
              deeper->prefetch_limit = std::max(deeper->prefetch_limit, o.k);
            }
          }
          std::optional<FormulaSearch> deeper_formula;
          if (formula != nullptr) {
            deeper_formula = *formula;
            deeper_formula->prefetch_limit =
                std::max(deeper_formula->prefetch_limit, o.k);
          }
          TQ_ASSIGN_OR_RETURN(
              std::vector<Hit> hits,
              Search(collection, query, o, true, nullptr,
                     deeper.has_value() ? &*deeper : nullptr,
                     deeper_formula.has_value() ? &*deeper_formula : nullptr));
          pb::SearchResponse r;
          for (const Hit& h : hits) {
            pb::ScoredPoint* p = r.add_points();
            p->set_id(h.id);
            p->set_score(h.score);
            p->set_payload(h.payload);
          }
          return r;
        },
        &resp));
    return GroupsFromProto(resp);
  }
  absl::StatusOr<CountResult> Count(
      const std::string& collection,
      const std::shared_ptr<const Filter>& filter) override {
    TQ_ASSIGN_OR_RETURN(auto c, db_->GetCollection(collection));
    if (filter == nullptr) {
      CountResult r;
      r.count = c->Count();
      return r;
    }
    return c->Count(*filter);
  }
  absl::StatusOr<FacetResult> Facet(const std::string& collection,
                                    const FacetOptions& o) override {
    TQ_ASSIGN_OR_RETURN(auto c, db_->GetCollection(collection));
    return c->Facet(o);
  }
  absl::StatusOr<ScrollPage> Scroll(const std::string& collection,
                                    const ScrollOptions& o) override {
    TQ_ASSIGN_OR_RETURN(auto c, db_->GetCollection(collection));
    return c->Scroll(o);
  }
  absl::StatusOr<FieldIndexInfo> CreateFieldIndex(const std::string& collection,
                                                  const std::string& field,
                                                  FieldType type) override {
    TQ_ASSIGN_OR_RETURN(auto c, db_->GetCollection(collection));
    return c->CreateFieldIndex(field, type, /*wait=*/true);
  }
  absl::Status DeleteFieldIndex(const std::string& collection,
                                const std::string& field) override {
    TQ_ASSIGN_OR_RETURN(auto c, db_->GetCollection(collection));
    return c->DeleteFieldIndex(field);
  }
  absl::Status UpdateAliases(const std::vector<AliasChange>& changes) override {
    return db_->UpdateAliases(changes);
  }
  absl::StatusOr<std::map<std::string, std::string>> ListAliases() override {
    return db_->ListAliases();
  }
  absl::Status Close() override { return db_->Close(); }
  std::string Describe() const override { return "data " + db_->dir(); }

 private:
  // A formula search as a server runs it (rpc/formula_search.h) over this
  // database's plain searches.
  absl::StatusOr<std::vector<Hit>> SearchRescored(
      const std::string& collection, absl::Span<const float> query,
      const QueryOptions& options, bool with_payload, SearchInfo* info,
      const SparseSearch* sparse, const FormulaSearch& formula) {
    pb::SearchRequest req = SearchRequestOf(collection, query, options);
    if (sparse != nullptr) AddSparse(*sparse, &req);
    AddFormula(formula, &req);
    req.set_with_payload(with_payload);
    TQ_RETURN_IF_ERROR(ValidateSearch(req, ServerOptions()));
    TQ_ASSIGN_OR_RETURN(
        pb::SearchResponse resp,
        SearchByFormula(req,
                        [&](const pb::SearchRequest& plain)
                            -> absl::StatusOr<pb::SearchResponse> {
                          QueryOptions o = options;
                          o.k = plain.limit();
                          std::optional<SparseSearch> deeper;
                          if (sparse != nullptr) {
                            deeper = *sparse;
                            deeper->prefetch_limit = plain.prefetch_limit();
                          }
                          TQ_ASSIGN_OR_RETURN(
                              std::vector<Hit> hits,
                              Search(collection, query, o, true, info,
                                     deeper.has_value() ? &*deeper : nullptr,
                                     nullptr));
                          pb::SearchResponse r;
                          for (Hit& h : hits) {
                            pb::ScoredPoint* p = r.add_points();
                            p->set_id(h.id);
                            p->set_score(h.score);
                            p->set_payload(std::move(h.payload));
                          }
                          return r;
                        }));
    std::vector<Hit> hits;
    for (const pb::ScoredPoint& p : resp.points()) {
      hits.push_back({p.id(), p.score(), p.payload()});
    }
    return hits;
  }

  std::unique_ptr<Database> db_;
};

}  // namespace

std::unique_ptr<Backend> Backend::Remote(ServerChannel server) {
  return std::make_unique<RemoteBackend>(std::move(server));
}

absl::StatusOr<std::unique_ptr<Backend>> Backend::Embedded(
    const std::string& dir, bool create_if_missing) {
  DatabaseOptions o;
  o.create_if_missing = create_if_missing;
  TQ_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open(dir, o));
  return std::unique_ptr<Backend>(new EmbeddedBackend(std::move(db)));
}

}  // namespace tqdb
