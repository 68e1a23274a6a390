// db/ benchmarks (Google Benchmark): ingest rate, open time, bytes on disk
// and resident memory per vector, d = 512, TurboQuant renorm 4 bits.
//
//   db_benchmark                          # all
//   db_benchmark --benchmark_filter=Open  # open time only
//
// Environment: TQDB_BENCH_DIR (default /tmp/tqdb_db_bench, removed at the
// end), TQDB_BENCH_N (points in the open benchmark, default 100000).
// Random unit vectors (Gaussian, normalized), ids 0..N-1 in order.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "db/db.h"
#include "quant/random.h"
#include "rocksdb/db.h"
#include "tests/db/check_ok.h"

namespace tqdb {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kDim = 512;
constexpr size_t kBatch = 1000;

std::string BenchDir() {
  const char* e = std::getenv("TQDB_BENCH_DIR");
  return e ? e : "/tmp/tqdb_db_bench";
}
size_t OpenN() {
  const char* e = std::getenv("TQDB_BENCH_N");
  return e ? std::strtoull(e, nullptr, 10) : 100000;
}
std::string OpenDbDir() { return BenchDir() + "/open"; }

// A pool of random unit vectors, cycled with fresh ids.
const std::vector<float>& Pool() {
  static const std::vector<float>* pool = [] {
    const size_t n = 16 * kBatch;
    auto* v = new std::vector<float>(n * kDim);
    Rng rng(42);
    for (size_t i = 0; i < n; ++i) {
      double s = 0;
      float* r = v->data() + i * kDim;
      for (uint32_t j = 0; j < kDim; ++j) {
        r[j] = static_cast<float>(rng.Gaussian());
        s += double{r[j]} * r[j];
      }
      const float inv = static_cast<float>(1.0 / std::sqrt(s));
      for (uint32_t j = 0; j < kDim; ++j) r[j] *= inv;
    }
    return v;
  }();
  return *pool;
}

std::vector<Point> Batch(uint64_t first_id) {
  const std::vector<float>& pool = Pool();
  const size_t pool_n = pool.size() / kDim;
  std::vector<Point> pts(kBatch);
  for (size_t i = 0; i < kBatch; ++i) {
    const size_t row = (first_id + i) % pool_n;
    pts[i].id = first_id + i;
    pts[i].vector.assign(pool.begin() + row * kDim,
                         pool.begin() + (row + 1) * kDim);
  }
  return pts;
}

CollectionConfig Config(uint32_t nlist, uint64_t threshold) {
  CollectionConfig c;
  c.name = "bench";
  c.dim = kDim;
  c.metric = Metric::kCosine;
  c.method = "renorm";
  c.bits = 4;
  c.nlist = nlist;
  c.train_threshold = threshold;
  return c;
}

size_t ResidentBytes() {
  std::ifstream f("/proc/self/statm");
  size_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) total += e.file_size();
  }
  return total;
}

// Evicts the directory's files from the page cache (only these files).
void DropCache(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const int fd = open(e.path().c_str(), O_RDONLY);
    if (fd < 0) continue;
    fdatasync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
  }
}

// Ingest: batches of 1,000 upserted into one collection.
// args: sync (0/1), nlist (0 = untrained: exact search, no encoding).
void BM_Ingest(benchmark::State& state) {
  const bool sync = state.range(0) != 0;
  const uint32_t nlist = static_cast<uint32_t>(state.range(1));
  const std::string dir = BenchDir() + "/ingest";
  fs::remove_all(dir);
  auto db = Database::Open(dir, DatabaseOptions());
  CHECK_OK(db.status());
  // Trained runs: train on 20,000 points first (not timed).
  const uint64_t pre = nlist ? 20 * kBatch : 0;
  CHECK_OK(
      (*db)->CreateCollection(Config(nlist, nlist ? pre : 1u << 30)).status());
  auto c = *(*db)->GetCollection("bench");
  uint64_t next = 0;
  for (; next < pre; next += kBatch) CHECK_OK(c->Upsert(Batch(next), false));
  if (nlist) {
    c->WaitForTraining();
    CHECK_OK(c->Train());
  }
  for (auto _ : state) {
    CHECK_OK(c->Upsert(Batch(next), sync));
    next += kBatch;
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  auto info = c->Info();
  state.counters["trained"] = info->trained;
  state.counters["disk_B_per_vec"] = info->disk_bytes_per_vector;
  CHECK_OK((*db)->Close());
  db->reset();
  fs::remove_all(dir);
}
BENCHMARK(BM_Ingest)
    ->ArgNames({"sync", "nlist"})
    ->Args({0, 0})
    ->Args({0, 256})
    ->Args({0, 1024})
    ->Args({1, 0})
    ->Args({1, 256})
    ->Iterations(100)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Builds the open benchmark's database in a child process, from main()
// before any thread exists (so that this process's memory measures only the
// open): N points, nlist 256, trained in the background as they arrive.
void BuildOpenDb() {
  const std::string dir = OpenDbDir();
  if (fs::exists(dir + "/CURRENT")) return;
  if (std::getenv("TQDB_BENCH_NO_OPEN")) {
    fprintf(stderr, "TQDB_BENCH_NO_OPEN is set: no database to open\n");
    std::abort();
  }
  const pid_t pid = fork();
  if (pid == 0) {
    const auto t0 = std::chrono::steady_clock::now();
    auto db = Database::Open(dir, DatabaseOptions());
    CHECK_OK(db.status());
    CHECK_OK((*db)->CreateCollection(Config(256, 0)).status());
    auto c = *(*db)->GetCollection("bench");
    for (uint64_t i = 0; i < OpenN(); i += kBatch) {
      CHECK_OK(c->Upsert(Batch(i), false));
    }
    const double ingest =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    c->WaitForTraining();
    const double total =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    auto info = c->Info();
    fprintf(stderr,
            "built %zu x %u in %.1f s (ingest without sync %.1f s, %.0f "
            "vectors/s, the first training starting in the background at "
            "%llu points), trained=%d nlist=%u imbalance=%.2f\n",
            OpenN(), kDim, total, ingest, OpenN() / ingest,
            static_cast<unsigned long long>(info->trained_count), info->trained,
            info->nlist, info->imbalance);
    CHECK_OK((*db)->Close());
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) std::abort();
}

// Resident memory added by opening (codes in RAM), measured in a fresh
// process (this binary re-executed with TQDB_BENCH_RSS_CHILD=1) so that
// nothing else this process did is counted.
void MeasureOpenResident() {
  const size_t before = ResidentBytes();
  auto db = Database::Open(OpenDbDir(), DatabaseOptions());
  CHECK_OK(db.status());
  const size_t after = ResidentBytes();
  auto c = *(*db)->GetCollection("bench");
  printf("%zu %zu %llu %zu\n", before, after,
         static_cast<unsigned long long>(c->Count()), c->Info()->code_bytes);
  CHECK_OK((*db)->Close());
}

void BM_OpenResident(benchmark::State& state) {
  BuildOpenDb();
  char exe[4096];
  const ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (len <= 0) std::abort();
  exe[len] = 0;
  for (auto _ : state) {
    const std::string cmd = std::string("TQDB_BENCH_RSS_CHILD=1 '") + exe + "'";
    FILE* f = popen(cmd.c_str(), "r");
    size_t before = 0, after = 0, code = 0;
    unsigned long long n = 0;
    if (!f || fscanf(f, "%zu %zu %llu %zu", &before, &after, &n, &code) != 4) {
      state.SkipWithError("resident-memory child failed");
      if (f) pclose(f);
      return;
    }
    pclose(f);
    state.counters["vectors"] = static_cast<double>(n);
    state.counters["rss_before_MB"] = before / 1048576.0;
    state.counters["rss_B_per_vec"] =
        (static_cast<double>(after) - static_cast<double>(before)) / n;
    state.counters["code_B_per_vec"] = static_cast<double>(code);
  }
}
BENCHMARK(BM_OpenResident)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Open time (arg: 1 = files evicted from the page cache first).
void BM_Open(benchmark::State& state) {
  BuildOpenDb();
  const bool cold = state.range(0) != 0;
  double load = 0;
  for (auto _ : state) {
    state.PauseTiming();
    if (cold) DropCache(OpenDbDir());
    state.ResumeTiming();
    auto db = Database::Open(OpenDbDir(), DatabaseOptions());
    CHECK_OK(db.status());
    state.PauseTiming();
    auto c = *(*db)->GetCollection("bench");
    load = c->Info()->load_seconds;
    state.counters["vectors"] = static_cast<double>(c->Count());
    CHECK_OK((*db)->Close());
    state.ResumeTiming();
  }
  state.counters["codes_scan_s"] = load;
}
BENCHMARK(BM_Open)
    ->ArgName("cold")
    ->Arg(0)
    ->Arg(1)
    ->Iterations(5)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Bytes on disk per vector: the directory, and per column family.
void BM_DiskBytes(benchmark::State& state) {
  BuildOpenDb();
  const double n = static_cast<double>(OpenN());
  for (auto _ : state) {
    state.counters["dir_B_per_vec"] = DirBytes(OpenDbDir()) / n;
  }
  std::vector<std::string> names;
  rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), OpenDbDir(), &names);
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& name : names)
    cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  if (rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), OpenDbDir(), cfs,
                                   &handles, &raw)
          .ok()) {
    std::vector<rocksdb::LiveFileMetaData> files;
    raw->GetLiveFilesMetaData(&files);
    for (const auto& f : files) {
      state.counters[f.column_family_name + "_B_per_vec"] += f.size / n;
    }
    for (auto* h : handles) raw->DestroyColumnFamilyHandle(h);
    delete raw;
  }
}
BENCHMARK(BM_DiskBytes)->Iterations(1);

}  // namespace
}  // namespace tqdb

int main(int argc, char** argv) {
  if (std::getenv("TQDB_BENCH_RSS_CHILD")) {
    tqdb::MeasureOpenResident();
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::filesystem::create_directories(tqdb::BenchDir());
  tqdb::Pool();  // generated once, before any timing
  if (!std::getenv("TQDB_BENCH_NO_OPEN")) tqdb::BuildOpenDb();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (!std::getenv("TQDB_BENCH_KEEP")) {
    std::filesystem::remove_all(tqdb::BenchDir());
  }
  return 0;
}
