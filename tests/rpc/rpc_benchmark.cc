// What gRPC costs (Google Benchmark): search QPS and p50/p99 latency over a
// loopback gRPC channel vs the same calls in process, single queries and
// batches of 32, and the streamed ingest rate, on use512-debian-pkgdesc
// (20,000 x 512, inner product; TurboQuant renorm 4 bits, IVF).
//
//   rpc_benchmark                                  # all
//   rpc_benchmark --benchmark_filter=Search        # searches only
//
// Counters: items_per_second = queries (or vectors) per second, p50_us and
// p99_us = latency per call. Environment: TQDB_BENCH_DIR (default
// /tmp/tqdb_rpc_bench, removed at the end), TQDB_BENCH_NPROBE (default 32),
// TQDB_BENCH_SEARCH_THREADS (the server's ServerOptions::search_threads,
// default 0 = one a core; 1 runs a mixed batch's searches one at a time).
//
// BM_SearchBatch32_Paired is the one the overhead goal is judged by: it
// alternates an in-process batch and the same batch over gRPC in one loop,
// so both see the same machine (separate runs on a shared 2-core box drift
// by more than the difference being measured). The gRPC client does what a
// careful C++ client does: request and response on one protobuf arena.
#include <google/protobuf/arena.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "db/db.h"
#include "rpc/server.h"
#include "tests/test_util.h"
#include "tqdb/v1/collections.grpc.pb.h"
#include "tqdb/v1/points.grpc.pb.h"
#include "tqdb/v1/snapshots.grpc.pb.h"

namespace tqdb {
namespace {

namespace pb = ::tqdb::v1;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr size_t kBatch = 1000;

std::string BenchDir() {
  const char* e = std::getenv("TQDB_BENCH_DIR");
  return e ? e : "/tmp/tqdb_rpc_bench";
}
uint32_t Nprobe() {
  const char* e = std::getenv("TQDB_BENCH_NPROBE");
  return e ? static_cast<uint32_t>(std::atoi(e)) : 32;
}

// The database, the server and a channel, set up once.
struct World {
  std::vector<float> base, queries;
  uint32_t dim = 0;
  size_t n = 0, nq = 0;
  std::unique_ptr<Database> db;
  std::shared_ptr<Collection> coll;
  std::unique_ptr<Server> server;
  std::unique_ptr<pb::Points::Stub> points;
  std::string error;

  World() {
    const std::string data =
        std::string(TQDB_SHARED_DATA) + "/use512-debian-pkgdesc/";
    size_t base_dim = 0, query_dim = 0;
    if (!testing_util::ReadVecs(data + "debdesc_use512_base_20k.fvecs", &base,
                                &n, &base_dim) ||
        !testing_util::ReadVecs(data + "debdesc_use512_query_1k.fvecs",
                                &queries, &nq, &query_dim)) {
      error = "use512-debian-pkgdesc not found under " +
              std::string(TQDB_SHARED_DATA);
      return;
    }
    dim = static_cast<uint32_t>(base_dim);
    fs::remove_all(BenchDir());
    DatabaseOptions o;
    o.background_training = false;
    auto d = Database::Open(BenchDir() + "/db", o);
    if (!d.ok()) {
      error = std::string(d.status().message());
      return;
    }
    db = std::move(*d);
    CollectionConfig cfg;
    cfg.name = "use512";
    cfg.dim = dim;
    cfg.metric = Metric::kInnerProduct;
    cfg.bits = 4;
    if (auto s = db->CreateCollection(cfg); !s.ok()) {
      error = std::string(s.status().message());
      return;
    }
    coll = *db->GetCollection("use512");
    for (size_t first = 0; first < n; first += kBatch) {
      if (auto s =
              coll->Upsert(Points(first, std::min(n, first + kBatch)), false);
          !s.ok()) {
        error = std::string(s.message());
        return;
      }
    }
    if (auto s = coll->Train(); !s.ok()) {
      error = std::string(s.message());
      return;
    }
    ServerOptions so;
    so.listen = "127.0.0.1:0";
    if (const char* t = std::getenv("TQDB_BENCH_SEARCH_THREADS")) {
      so.search_threads = static_cast<uint32_t>(std::atoi(t));
    }
    auto srv = Server::Start(db.get(), so);
    if (!srv.ok()) {
      error = std::string(srv.status().message());
      return;
    }
    server = std::move(*srv);
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    points = pb::Points::NewStub(grpc::CreateCustomChannel(
        server->address(), grpc::InsecureChannelCredentials(), args));
  }

  std::vector<Point> Points(size_t from, size_t to, uint64_t id0 = 0) const {
    std::vector<Point> pts(to - from);
    for (size_t i = from; i < to; ++i) {
      pts[i - from].id = id0 + i;
      pts[i - from].vector.assign(base.begin() + i * dim,
                                  base.begin() + (i + 1) * dim);
    }
    return pts;
  }
  const float* Query(size_t i) const { return queries.data() + (i % nq) * dim; }
  QueryOptions Options(uint32_t k) const {
    QueryOptions o;
    o.k = k;
    o.nprobe = Nprobe();
    return o;
  }
  void FillRequest(size_t i, uint32_t k, pb::SearchRequest* r) const {
    r->mutable_vector()->Add(Query(i), Query(i) + dim);
    r->set_limit(k);
    r->mutable_params()->set_nprobe(Nprobe());
  }
  // Queries first .. first + n - 1 (k = 10) as one SearchBatch call,
  // request and response on one arena. False unless every search answered;
  // *server_ms = the time the server's handler took. `mixed`: k alternates
  // 10 and 11, so the batch is not one the database runs in one call and
  // the server runs its searches one by one (over its threads).
  bool GrpcBatch(size_t first, size_t n, double* server_ms,
                 bool mixed = false) const {
    google::protobuf::Arena arena;
    auto* req =
        google::protobuf::Arena::CreateMessage<pb::SearchBatchRequest>(&arena);
    req->set_collection("use512");
    req->mutable_searches()->Reserve(static_cast<int>(n));
    for (size_t j = 0; j < n; ++j) {
      FillRequest(first + j, mixed ? 10 + j % 2 : 10, req->add_searches());
    }
    auto* resp =
        google::protobuf::Arena::CreateMessage<pb::SearchBatchResponse>(&arena);
    grpc::ClientContext ctx;
    const bool ok = points->SearchBatch(&ctx, *req, resp).ok() &&
                    resp->results_size() == static_cast<int>(n);
    *server_ms = resp->time_ms();
    return ok;
  }
};

World& W() {
  static World* w = new World();
  return *w;
}

// Runs `call` once per iteration, timing each, and reports percentiles.
template <typename F>
void Timed(benchmark::State& state, size_t items_per_call, F call) {
  std::vector<double> us;
  size_t i = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    if (!call(i++)) {
      state.SkipWithError("call failed");
      return;
    }
    us.push_back(
        std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  std::sort(us.begin(), us.end());
  state.counters["p50_us"] = us[us.size() / 2];
  state.counters["p99_us"] = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  state.SetItemsProcessed(static_cast<int64_t>(i * items_per_call));
}

void BM_Search_InProcess(benchmark::State& state) {
  World& w = W();
  if (!w.error.empty()) return state.SkipWithError(w.error.c_str());
  const QueryOptions o = w.Options(10);
  Timed(state, 1, [&](size_t i) {
    auto r = w.coll->Search(absl::MakeConstSpan(w.Query(i), w.dim), o);
    benchmark::DoNotOptimize(r);
    return r.ok();
  });
}

void BM_Search_Grpc(benchmark::State& state) {
  World& w = W();
  if (!w.error.empty()) return state.SkipWithError(w.error.c_str());
  double server_ms = 0;
  size_t calls = 0;
  Timed(state, 1, [&](size_t i) {
    google::protobuf::Arena arena;
    auto* req =
        google::protobuf::Arena::CreateMessage<pb::SearchRequest>(&arena);
    req->set_collection("use512");
    w.FillRequest(i, 10, req);
    auto* resp =
        google::protobuf::Arena::CreateMessage<pb::SearchResponse>(&arena);
    grpc::ClientContext ctx;
    const bool ok = w.points->Search(&ctx, *req, resp).ok();
    server_ms += resp->time_ms();
    ++calls;
    return ok;
  });
  state.counters["server_us"] = calls ? 1000 * server_ms / calls : 0;
}

// The smallest call (Count): one round trip over gRPC on this machine.
void BM_Count_Grpc(benchmark::State& state) {
  World& w = W();
  if (!w.error.empty()) return state.SkipWithError(w.error.c_str());
  Timed(state, 1, [&](size_t) {
    grpc::ClientContext ctx;
    pb::CountRequest req;
    req.set_collection("use512");
    pb::CountResponse resp;
    return w.points->Count(&ctx, req, &resp).ok();
  });
}

constexpr size_t kQBatch = 32;

void BM_SearchBatch32_InProcess(benchmark::State& state) {
  World& w = W();
  if (!w.error.empty()) return state.SkipWithError(w.error.c_str());
  const QueryOptions o = w.Options(10);
  Timed(state, kQBatch, [&](size_t i) {
    const size_t first = (i * kQBatch) % (w.nq - kQBatch);
    auto r = w.coll->SearchBatch(
        absl::MakeConstSpan(w.Query(first), kQBatch * w.dim), o);
    benchmark::DoNotOptimize(r);
    return r.ok();
  });
}

// Batches of 32 over gRPC; `mixed`: see World::GrpcBatch.
void GrpcBatches(benchmark::State& state, bool mixed) {
  World& w = W();
  if (!w.error.empty()) return state.SkipWithError(w.error.c_str());
  double server_ms = 0;
  size_t calls = 0;
  Timed(state, kQBatch, [&](size_t i) {
    const size_t first = (i * kQBatch) % (w.nq - kQBatch);
    double ms = 0;
    const bool ok = w.GrpcBatch(first, kQBatch, &ms, mixed);
    server_ms += ms;
    ++calls;
    return ok;
  });
  // Time inside the server's handler (the rest is transport).
  state.counters["server_us"] = calls ? 1000 * server_ms / calls : 0;
}

void BM_SearchBatch32_Grpc(benchmark::State& state) {
  GrpcBatches(state, /*mixed=*/false);
}

// The same queries with k alternating 10 and 11: searches that differ, run
// one by one over the server's threads (rpc/points_service.cc).
void BM_SearchBatch32_GrpcMixed(benchmark::State& state) {
  GrpcBatches(state, /*mixed=*/true);
}

// In-process and gRPC alternated call by call (see the top of the file).
// Counters: p50/p99 of each, server_p50_us (the handler's own time), and
// overhead_p50_pct / overhead_qps_pct: how much longer a gRPC batch takes
// than the same batch in process, by median latency and by mean (= QPS).
void BM_SearchBatch32_Paired(benchmark::State& state) {
  World& w = W();
  if (!w.error.empty()) return state.SkipWithError(w.error.c_str());
  const QueryOptions o = w.Options(10);
  std::vector<double> local_us, grpc_us, server_us;
  auto since = [](Clock::time_point t0) {
    return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
  };
  size_t i = 0;
  for (auto _ : state) {
    const size_t first = (i++ * kQBatch) % (w.nq - kQBatch);
    auto t0 = Clock::now();
    auto r = w.coll->SearchBatch(
        absl::MakeConstSpan(w.Query(first), kQBatch * w.dim), o);
    benchmark::DoNotOptimize(r);
    local_us.push_back(since(t0));
    if (!r.ok()) return state.SkipWithError("in-process call failed");

    t0 = Clock::now();
    double ms = 0;
    if (!w.GrpcBatch(first, kQBatch, &ms)) {
      return state.SkipWithError("gRPC call failed");
    }
    grpc_us.push_back(since(t0));
    server_us.push_back(1000 * ms);
  }
  auto pct = [](std::vector<double> v, size_t p) {
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, v.size() * p / 100)];
  };
  auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return s / v.size();
  };
  state.counters["inproc_p50_us"] = pct(local_us, 50);
  state.counters["inproc_p99_us"] = pct(local_us, 99);
  state.counters["grpc_p50_us"] = pct(grpc_us, 50);
  state.counters["grpc_p99_us"] = pct(grpc_us, 99);
  state.counters["server_p50_us"] = pct(server_us, 50);
  state.counters["inproc_qps"] = 1e6 * kQBatch / mean(local_us);
  state.counters["grpc_qps"] = 1e6 * kQBatch / mean(grpc_us);
  state.counters["overhead_p50_pct"] =
      100 * (pct(grpc_us, 50) / pct(local_us, 50) - 1);
  state.counters["overhead_qps_pct"] =
      100 * (mean(grpc_us) / mean(local_us) - 1);
  state.SetItemsProcessed(static_cast<int64_t>(2 * i * kQBatch));
}

// Ingest: the 20,000 vectors again under fresh ids (the collection is
// trained, so every point is encoded into the index), batches of 1,000.
uint64_t next_id = 1ull << 32;

void BM_Ingest_InProcess(benchmark::State& state) {
  World& w = W();
  if (!w.error.empty()) return state.SkipWithError(w.error.c_str());
  std::vector<std::vector<Point>> batches;
  Timed(state, w.n, [&](size_t) {
    state.PauseTiming();
    batches.clear();
    for (size_t f = 0; f < w.n; f += kBatch) {
      batches.push_back(w.Points(f, std::min(w.n, f + kBatch), next_id));
    }
    next_id += w.n;
    state.ResumeTiming();
    for (const auto& b : batches) {
      if (!w.coll->Upsert(b, false).ok()) return false;
    }
    return true;
  });
}

void BM_IngestStream_Grpc(benchmark::State& state) {
  World& w = W();
  if (!w.error.empty()) return state.SkipWithError(w.error.c_str());
  Timed(state, w.n, [&](size_t) {
    grpc::ClientContext ctx;
    pb::UpsertResponse resp;
    auto writer = w.points->UpsertStream(&ctx, &resp);
    for (size_t f = 0; f < w.n; f += kBatch) {
      pb::UpsertRequest req;
      req.set_collection("use512");
      for (size_t i = f; i < std::min(w.n, f + kBatch); ++i) {
        pb::Point* p = req.add_points();
        p->set_id(next_id + i);
        p->mutable_vector()->Add(w.base.begin() + i * w.dim,
                                 w.base.begin() + (i + 1) * w.dim);
      }
      if (!writer->Write(req)) break;
    }
    next_id += w.n;
    writer->WritesDone();
    return writer->Finish().ok() && resp.upserted() == w.n;
  });
}

BENCHMARK(BM_Count_Grpc)->MinTime(3.0)->UseRealTime();
BENCHMARK(BM_Search_InProcess)->MinTime(3.0)->UseRealTime();
BENCHMARK(BM_Search_Grpc)->MinTime(3.0)->UseRealTime();
BENCHMARK(BM_SearchBatch32_InProcess)->MinTime(3.0)->UseRealTime();
BENCHMARK(BM_SearchBatch32_Grpc)->MinTime(3.0)->UseRealTime();
BENCHMARK(BM_SearchBatch32_GrpcMixed)->MinTime(3.0)->UseRealTime();
BENCHMARK(BM_SearchBatch32_Paired)->MinTime(10.0)->UseRealTime();
BENCHMARK(BM_Ingest_InProcess)->Iterations(3)->UseRealTime();
BENCHMARK(BM_IngestStream_Grpc)->Iterations(3)->UseRealTime();

}  // namespace
}  // namespace tqdb

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  tqdb::World& w = tqdb::W();
  if (w.server) w.server->Shutdown(absl::Seconds(5));
  if (w.db) w.db->Close().IgnoreError();
  std::filesystem::remove_all(tqdb::BenchDir());
  return 0;
}
