#include "rpc/metrics.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace tqdb {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// Latency buckets: 50 us to 30 s.
prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,    0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30};
}

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void AddValue(MetricFamily* f, double v,
              std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f->type == MetricType::Counter) {
    m.counter.value = v;
  } else {
    m.gauge.value = v;
  }
  f->metric.push_back(std::move(m));
}

struct ProcessStats {
  double rss_bytes = 0, vm_bytes = 0, cpu_seconds = 0, threads = 0;
  double open_fds = 0;
};

// /proc/self: statm (pages) and stat (utime, stime, threads).
ProcessStats ReadProcess() {
  ProcessStats p;
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  std::ifstream statm("/proc/self/statm");
  double vm_pages = 0, rss_pages = 0;
  if (statm >> vm_pages >> rss_pages) {
    p.vm_bytes = vm_pages * page;
    p.rss_bytes = rss_pages * page;
  }
  std::ifstream stat("/proc/self/stat");
  std::string all((std::istreambuf_iterator<char>(stat)),
                  std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces), from field 3.
  const size_t close = all.rfind(')');
  if (close != std::string::npos) {
    std::istringstream rest(all.substr(close + 2));
    std::vector<std::string> f;
    for (std::string s; rest >> s;) f.push_back(s);
    // f[0] is field 3 (state): utime 14, stime 15, num_threads 20.
    if (f.size() > 17) {
      const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
      p.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / tick;
      p.threads = std::stod(f[17]);
    }
  }
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    p.open_fds += 1;
  }
  return p;
}

// What the server holds now, read at each scrape.
class StateCollector final : public prometheus::Collectable {
 public:
  explicit StateCollector(const Database* db)
      : db_(db), start_(absl::ToUnixSeconds(absl::Now())) {}

  std::vector<MetricFamily> Collect() const override {
    std::vector<MetricFamily> out;
    CollectCollections(&out);
    CollectStorage(&out);
    CollectProcess(&out);
    return out;
  }

 private:
  void CollectCollections(std::vector<MetricFamily>* out) const {
    auto g = [](const char* n, const char* h) {
      return Family(n, h, MetricType::Gauge);
    };
    MetricFamily points = g("tqdb_collection_points", "Points stored.");
    MetricFamily tomb = g("tqdb_collection_tombstones",
                          "Deleted points still in the index's lists.");
    MetricFamily trained =
        g("tqdb_collection_trained", "1 once the IVF index is trained.");
    MetricFamily training =
        g("tqdb_collection_training", "1 while a training runs.");
    MetricFamily nlist =
        g("tqdb_collection_nlist", "IVF lists of the active index.");
    MetricFamily imbalance = g("tqdb_collection_list_imbalance",
                               "sum(size^2) * nlist / n^2 of the live list "
                               "sizes; 1 = perfectly even.");
    MetricFamily mem = g("tqdb_collection_memory_bytes",
                         "Memory the collection holds (index or in-memory "
                         "raw vectors, and reservations).");
    MetricFamily codes = g("tqdb_collection_index_memory_bytes",
                           "Memory of the active index: codes, factors, "
                           "ids, id map, centroids.");
    MetricFamily disk = g("tqdb_collection_disk_bytes",
                          "Approximate bytes on disk, every column family.");
    for (const std::string& name : db_->ListCollections()) {
      auto c = db_->GetCollection(name);
      if (!c.ok()) continue;  // dropped meanwhile, or closing
      auto info = (*c)->Info();
      if (!info.ok()) continue;
      const std::vector<ClientMetric::Label> l = {{"collection", name}};
      AddValue(&points, static_cast<double>(info->count), l);
      AddValue(&tomb, static_cast<double>(info->lists.tombstones), l);
      AddValue(&trained, info->trained ? 1 : 0, l);
      AddValue(&training, info->training ? 1 : 0, l);
      AddValue(&nlist, info->nlist, l);
      AddValue(&imbalance, info->imbalance, l);
      AddValue(&mem, static_cast<double>(info->memory_bytes), l);
      AddValue(&codes, static_cast<double>(info->memory_index_bytes), l);
      AddValue(&disk, static_cast<double>(info->disk_bytes), l);
    }
    for (MetricFamily* f : {&points, &tomb, &trained, &training, &nlist,
                            &imbalance, &mem, &codes, &disk}) {
      out->push_back(std::move(*f));
    }
  }

  void CollectStorage(std::vector<MetricFamily>* out) const {
    const StorageStats s = db_->storage_stats();
    auto add = [&](const char* name, const char* help, MetricType t,
                   uint64_t v) {
      MetricFamily f = Family(name, help, t);
      AddValue(&f, static_cast<double>(v));
      out->push_back(std::move(f));
    };
    const MetricType C = MetricType::Counter, G = MetricType::Gauge;
    add("tqdb_memory_used_bytes",
        "Memory every collection holds (--memory-limit accounting).", G,
        s.memory_total_bytes);
    add("tqdb_memory_limit_bytes", "--memory-limit; 0 = none.", G,
        s.memory_limit_bytes);
    add("tqdb_rocksdb_wal_syncs_total", "RocksDB WAL fsyncs since start.", C,
        s.wal_syncs);
    add("tqdb_rocksdb_wal_bytes_total",
        "Bytes written to the RocksDB WAL since start.", C, s.wal_bytes);
    add("tqdb_rocksdb_compaction_pending",
        "Column families with a compaction pending.", G, s.compaction_pending);
    add("tqdb_rocksdb_compactions_running", "RocksDB compactions running.", G,
        s.compactions_running);
    add("tqdb_rocksdb_pending_compaction_bytes",
        "Bytes RocksDB estimates compactions still have to rewrite.", G,
        s.pending_compaction_bytes);
    add("tqdb_rocksdb_block_cache_usage_bytes", "RocksDB block cache in use.",
        G, s.block_cache_usage);
    add("tqdb_rocksdb_block_cache_capacity_bytes",
        "RocksDB block cache capacity.", G, s.block_cache_capacity);
    add("tqdb_rocksdb_memtable_bytes", "RocksDB memtables, all families.", G,
        s.memtable_bytes);
    add("tqdb_rocksdb_live_sst_bytes", "RocksDB live SST files, all families.",
        G, s.live_sst_bytes);
    add("tqdb_storage_errors_total",
        "Storage errors since start (a full or failing disk).", C,
        s.storage_errors);
    add("tqdb_storage_recoveries_total",
        "Recoveries that resumed writes after a storage error.", C,
        s.storage_recoveries);
    add("tqdb_storage_reopens_total",
        "Recoveries that reopened the storage in place.", C, s.storage_reopens);
    add("tqdb_storage_writes_stopped",
        "1 while writes are refused after a storage error.", G,
        s.writes_stopped);
  }

  void CollectProcess(std::vector<MetricFamily>* out) const {
    const ProcessStats p = ReadProcess();
    auto add = [&](const char* name, const char* help, MetricType t, double v) {
      MetricFamily f = Family(name, help, t);
      AddValue(&f, v);
      out->push_back(std::move(f));
    };
    const MetricType C = MetricType::Counter, G = MetricType::Gauge;
    add("tqdb_process_resident_memory_bytes", "Resident set size.", G,
        p.rss_bytes);
    add("tqdb_process_virtual_memory_bytes", "Virtual memory size.", G,
        p.vm_bytes);
    add("tqdb_process_cpu_seconds_total", "User and system CPU time.", C,
        p.cpu_seconds);
    add("tqdb_process_threads", "Threads of the process.", G, p.threads);
    add("tqdb_process_open_fds", "Open file descriptors.", G, p.open_fds);
    add("tqdb_process_start_time_seconds",
        "Start of the metrics (Unix seconds).", G, static_cast<double>(start_));
  }

  const Database* const db_;
  const int64_t start_;
};

}  // namespace

const char* GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

Metrics::Metrics(const Database* db)
    : registry_(std::make_shared<prometheus::Registry>()),
      state_(std::make_shared<StateCollector>(db)) {
  using prometheus::BuildCounter;
  using prometheus::BuildHistogram;
  requests_ = &BuildCounter()
                   .Name("tqdb_rpc_requests_total")
                   .Help(
                       "Finished calls by method, status code and "
                       "transport (grpc, or http for REST).")
                   .Register(*registry_);
  latency_ = &BuildHistogram()
                  .Name("tqdb_rpc_duration_seconds")
                  .Help(
                      "Server-side time of a call, by method, status code "
                      "and transport.")
                  .Register(*registry_);
  auto counter = [&](const char* name, const char* help) {
    return &BuildCounter().Name(name).Help(help).Register(*registry_).Add({});
  };
  search_requests_ = counter("tqdb_search_requests_total",
                             "Search and SearchBatch calls answered.");
  search_queries_ =
      counter("tqdb_search_queries_total", "Queries answered (a batch's all).");
  lists_probed_ =
      counter("tqdb_search_lists_probed_total", "IVF lists scanned.");
  lists_skipped_ = counter(
      "tqdb_search_lists_skipped_total",
      "IVF lists of nprobe left unscanned by adaptive probing (probe_sigmas).");
  codes_scanned_ = counter("tqdb_search_codes_scanned_total",
                           "Codes (list slots) the scan kernel ran over.");
  rescored_ = counter("tqdb_search_rescored_total",
                      "Candidates rescored on the raw vectors.");
  exact_scored_ = counter("tqdb_search_exact_scored_total",
                          "Vectors scored exactly (exact search, and "
                          "collections not trained yet).");
  ingest_points_ =
      counter("tqdb_ingest_points_total", "Points upserted (stored).");
  ingest_bytes_ = counter("tqdb_ingest_bytes_total",
                          "Encoded bytes of the upsert messages stored.");
  ingest_batches_ = counter("tqdb_ingest_batches_total",
                            "Upsert messages stored (one per batch).");
}

Metrics::~Metrics() = default;

void Metrics::RecordCall(absl::string_view method, grpc::StatusCode code,
                         absl::string_view transport, double seconds) {
  const std::map<std::string, std::string> labels = {
      {"method", std::string(method)},
      {"code", GrpcCodeName(code)},
      {"transport", std::string(transport)}};
  requests_->Add(labels).Increment();
  latency_->Add(labels, LatencyBuckets()).Observe(seconds);
}

void Metrics::RecordSearch(uint64_t queries, const SearchStats& s) {
  search_requests_->Increment();
  search_queries_->Increment(static_cast<double>(queries));
  lists_probed_->Increment(s.lists_probed);
  lists_skipped_->Increment(s.lists_skipped);
  codes_scanned_->Increment(static_cast<double>(s.codes_scanned));
  rescored_->Increment(static_cast<double>(s.rescored));
  exact_scored_->Increment(static_cast<double>(s.exact_scored));
}

void Metrics::RecordIngest(uint64_t points, uint64_t bytes) {
  ingest_points_->Increment(static_cast<double>(points));
  ingest_bytes_->Increment(static_cast<double>(bytes));
  ingest_batches_->Increment();
}

}  // namespace tqdb
