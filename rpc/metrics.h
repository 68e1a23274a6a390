// tqdb's Prometheus metrics (Debian's prometheus-cpp), every series named
// tqdb_*: what the server counts as calls go by (requests and latency per
// RPC method, status code and transport; search and ingest work) and what
// it reads at each scrape (per collection: points, tombstones, training,
// nlist, list imbalance, memory, disk; RocksDB; the process). README
// "Metrics" lists them all.
//
//   Metrics m(db);
//   m.RecordCall("tqdb.v1.Points/Search", grpc::StatusCode::OK, "grpc", 0.002);
//   exposer.RegisterCollectable(m.registry());   // the counters
//   exposer.RegisterCollectable(m.state());      // read at scrape time
//
// Thread-safe. The Database must outlive the Metrics' last scrape.
#ifndef TQDB_RPC_METRICS_H_
#define TQDB_RPC_METRICS_H_

#include <grpcpp/support/status.h>
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "db/db.h"

namespace tqdb {

// The gRPC code's name as in the proto docs ("OK", "INVALID_ARGUMENT").
const char* GrpcCodeName(grpc::StatusCode code);

class Metrics {
 public:
  explicit Metrics(const Database* db);
  ~Metrics();

  // One finished call: method as gRPC names it ("tqdb.v1.Points/Search",
  // without the leading slash), transport "grpc" or "http" (REST).
  void RecordCall(absl::string_view method, grpc::StatusCode code,
                  absl::string_view transport, double seconds);
  // One search request of `queries` queries (1, or a batch's size) and what
  // it did.
  void RecordSearch(uint64_t queries, const SearchStats& stats);
  // Points stored by an upsert message (bytes: its encoded size).
  void RecordIngest(uint64_t points, uint64_t bytes);

  // The counters and histograms.
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }
  // Per-collection, RocksDB and process gauges, read at each scrape.
  std::shared_ptr<prometheus::Collectable> state() const { return state_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<prometheus::Collectable> state_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* latency_;
  prometheus::Counter* search_requests_;
  prometheus::Counter* search_queries_;
  prometheus::Counter* lists_probed_;
  prometheus::Counter* lists_skipped_;
  prometheus::Counter* codes_scanned_;
  prometheus::Counter* rescored_;
  prometheus::Counter* exact_scored_;
  prometheus::Counter* ingest_points_;
  prometheus::Counter* ingest_bytes_;
  prometheus::Counter* ingest_batches_;
};

}  // namespace tqdb

#endif  // TQDB_RPC_METRICS_H_
