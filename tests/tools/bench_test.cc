// Tests of `tqdb bench` (tools/bench/bench.cc) and the SVG writer
// (tools/bench/svg.h).
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quant/kernels.h"
#include "quant/random.h"
#include "tools/bench/commands.h"
#include "tools/bench/faiss_peer.h"
#include "tools/bench/svg.h"

namespace tqdb {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr size_t kN = 2000, kD = 32, kNq = 50;

// n points around Gaussian blob centres (shared by base and queries through
// center_seed), spread 0.3.
std::vector<float> Blobs(size_t n, size_t d, uint64_t center_seed,
                         uint64_t point_seed) {
  constexpr size_t kCenters = 20;
  Rng crng(center_seed);
  std::vector<float> c(kCenters * d);
  for (float& v : c) v = static_cast<float>(crng.Gaussian());
  Rng rng(point_seed);
  std::vector<float> x(n * d);
  for (size_t i = 0; i < n; ++i) {
    const float* ci = &c[rng.Uniform(kCenters) * d];
    for (size_t j = 0; j < d; ++j) {
      x[i * d + j] = ci[j] + 0.3f * static_cast<float>(rng.Gaussian());
    }
  }
  return x;
}

void WriteVecs(const std::string& path, const void* data, size_t n, size_t d) {
  std::ofstream f(path, std::ios::binary);
  const int32_t dim = static_cast<int32_t>(d);
  for (size_t i = 0; i < n; ++i) {
    f.write(reinterpret_cast<const char*>(&dim), 4);
    f.write(static_cast<const char*>(data) + i * d * 4, d * 4);
  }
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string line;
  while (std::getline(ss, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// The number after "key": in a JSON line (NaN if absent).
double Num(const std::string& line, const std::string& key) {
  const size_t p = line.find("\"" + key + "\":");
  if (p == std::string::npos) return NAN;
  return std::strtod(line.c_str() + p + key.size() + 3, nullptr);
}

std::string Str(const std::string& line, const std::string& key) {
  const std::string k = "\"" + key + "\":\"";
  const size_t p = line.find(k);
  if (p == std::string::npos) return "";
  const size_t e = line.find('"', p + k.size());
  return line.substr(p + k.size(), e - p - k.size());
}

class BenchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(::testing::TempDir() + "tqdb_bench_test_" +
                           std::to_string(::getpid()));
    std::system(("mkdir -p '" + *dir_ + "'").c_str());
    const std::vector<float> base = Blobs(kN, kD, 7, 1);
    const std::vector<float> queries = Blobs(kNq, kD, 7, 2);
    WriteVecs(Path("base.fvecs"), base.data(), kN, kD);
    WriteVecs(Path("queries.fvecs"), queries.data(), kNq, kD);
    // Other dimension.
    const std::vector<float> q16 = Blobs(kNq, 16, 7, 3);
    WriteVecs(Path("queries16.fvecs"), q16.data(), kNq, 16);
    // Truncated: cut in the middle of row 3.
    std::string full = ReadAll(Path("queries.fvecs"));
    std::ofstream(Path("truncated.fvecs"), std::ios::binary)
        << full.substr(0, 2 * (4 + kD * 4) + 10);
    // Ground truth with too few rows.
    std::vector<int32_t> gt(10 * 10);
    for (size_t i = 0; i < gt.size(); ++i) gt[i] = static_cast<int32_t>(i);
    WriteVecs(Path("short_gt.ivecs"), gt.data(), 10, 10);
  }
  static void TearDownTestSuite() {
    std::system(("rm -rf '" + *dir_ + "'").c_str());
    delete dir_;
  }
  static std::string Path(const std::string& name) {
    return *dir_ + "/" + name;
  }

  int Run(const std::vector<std::string>& args) {
    out_.str("");
    err_.str("");
    return RunBench(args, out_, err_);
  }

  // Runs with the base and query files plus `extra`; expects exit 2 and an
  // error message containing `needle`.
  void ExpectUsageError(std::vector<std::string> args,
                        const std::string& needle) {
    SCOPED_TRACE(needle);
    EXPECT_EQ(Run(args), 2) << out_.str() << err_.str();
    EXPECT_THAT(err_.str(), HasSubstr(needle));
  }

  static std::string* dir_;
  std::ostringstream out_, err_;
};

std::string* BenchTest::dir_ = nullptr;

// Checks a JSON line has every key and sane values (a base of n rows).
void CheckLine(const std::string& line, size_t n = kN) {
  SCOPED_TRACE(line);
  for (const char* key : {"label",
                          "metric",
                          "n",
                          "d",
                          "nq",
                          "method",
                          "bits_per_dim",
                          "bytes_per_vector",
                          "nlist",
                          "nprobe",
                          "rescore",
                          "threads",
                          "batch",
                          "k",
                          "recall1_at",
                          "recall10_at10",
                          "qps",
                          "ms_per_query",
                          "build_s",
                          "codec"}) {
    EXPECT_THAT(line, HasSubstr(std::string("\"") + key + "\":"));
  }
  EXPECT_EQ(line.front(), '{');
  EXPECT_EQ(line.back(), '}');
  const size_t at = line.find("\"recall1_at\":{");
  ASSERT_NE(at, std::string::npos);
  const std::string obj = line.substr(at + 13, line.find('}', at) - at - 12);
  double prev = 0;
  for (int k = 1; k <= 64; k *= 2) {
    const double r = Num(obj, std::to_string(k));
    EXPECT_GE(r, 0.0) << "k=" << k;
    EXPECT_LE(r, 1.0) << "k=" << k;
    EXPECT_GE(r, prev) << "recall1_at not non-decreasing at k=" << k;
    prev = r;
  }
  const double r10 = Num(line, "recall10_at10");
  EXPECT_GE(r10, 0.0);
  EXPECT_LE(r10, 1.0);
  EXPECT_GT(Num(line, "qps"), 0.0);
  EXPECT_GT(Num(line, "ms_per_query"), 0.0);
  EXPECT_GE(Num(line, "build_s"), 0.0);
  EXPECT_GT(Num(line, "bytes_per_vector"), 0.0);
  EXPECT_EQ(Num(line, "n"), double(n));
  EXPECT_EQ(Num(line, "d"), double(kD));
  EXPECT_EQ(Num(line, "nq"), double(kNq));
}

TEST_F(BenchTest, SweepWritesTableJsonAndSvg) {
  const std::string json = Path("sweep.jsonl"), svg = Path("sweep.svg");
  ASSERT_EQ(Run({"--base",    Path("base.fvecs"),
                 "--queries", Path("queries.fvecs"),
                 "--metric",  "cosine",
                 "--methods", "renorm,pq,prod",
                 "--bits",    "2,4",
                 "--nprobe",  "1,all",
                 "--rescore", "0,4",
                 "--json",    json,
                 "--svg",     svg,
                 "--label",   "blobs"}),
            0)
      << err_.str();
  const std::string out = out_.str();
  EXPECT_THAT(out, HasSubstr("SIMD target:"));
  EXPECT_THAT(out, HasSubstr("GB/s"));
  EXPECT_THAT(out, HasSubstr("ground truth computed"));
  EXPECT_THAT(out, HasSubstr("10-R@10"));

  const std::vector<std::string> lines = Lines(ReadAll(json));
  ASSERT_EQ(lines.size(), 3u * 2 * 2 * 2);  // methods x bits x nprobe x rescore
  std::set<std::string> methods;
  bool checked = false;
  for (const std::string& line : lines) {
    CheckLine(line);
    methods.insert(Str(line, "method"));
    EXPECT_EQ(Str(line, "label"), "blobs");
    EXPECT_EQ(Str(line, "metric"), "cosine");
    EXPECT_EQ(Num(line, "k"), 10);
    EXPECT_EQ(Num(line, "threads"), 1);
    const double nlist = Num(line, "nlist");
    EXPECT_GE(nlist, 2);
    if (Str(line, "method") == "renorm" && Num(line, "bits_per_dim") == 4 &&
        Num(line, "nprobe") == nlist && Num(line, "rescore") == 4) {
      EXPECT_GE(Num(line, "recall10_at10"), 0.9) << line;
      // b*d bits plus one or two float factors.
      EXPECT_GE(Num(line, "bytes_per_vector"), 4 * kD / 8 + 4);
      EXPECT_LE(Num(line, "bytes_per_vector"), 4 * kD / 8 + 8);
      checked = true;
    }
  }
  EXPECT_TRUE(checked);
  EXPECT_EQ(methods, (std::set<std::string>{"renorm", "pq", "prod"}));

  const std::string s = ReadAll(svg);
  EXPECT_THAT(s, StartsWith("<svg"));
  EXPECT_THAT(s, HasSubstr("</svg>"));
  EXPECT_THAT(s, HasSubstr("<polyline"));
  EXPECT_THAT(s, HasSubstr("renorm 4-bit"));
}

TEST_F(BenchTest, FlatIndexWithThreads) {
  const std::string json1 = Path("flat.jsonl");
  const std::vector<std::string> common = {"--base",    Path("base.fvecs"),
                                           "--queries", Path("queries.fvecs"),
                                           "--metric",  "l2",
                                           "--methods", "mse,pq8",
                                           "--bits",    "3",
                                           "--nlist",   "1",
                                           "--nprobe",  "all",
                                           "--threads", "2",
                                           "--k",       "5"};
  std::vector<std::string> a = common;
  a.insert(a.end(), {"--json", json1});
  ASSERT_EQ(Run(a), 0) << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("scan rate:"));
  EXPECT_THAT(out_.str(), HasSubstr("M codes/s"));
  const std::vector<std::string> lines = Lines(ReadAll(json1));
  ASSERT_EQ(lines.size(), 2u);
  for (const std::string& line : lines) {
    CheckLine(line);
    EXPECT_EQ(Num(line, "nlist"), 1);
    EXPECT_EQ(Num(line, "nprobe"), 1);
    EXPECT_EQ(Num(line, "threads"), 2);
    EXPECT_EQ(Num(line, "k"), 5);
    EXPECT_EQ(Str(line, "label"), "base");
  }
  EXPECT_EQ(Str(lines[1], "method"), "pq8");
  EXPECT_THAT(Str(lines[1], "codec"), HasSubstr("pq"));
}

// --batch: the timed pass as SearchBatch calls of 7 queries (the last one
// short) finds what one Search a query finds, and reads as much.
TEST_F(BenchTest, BatchedTimingMatchesSingleQueries) {
  std::vector<std::vector<std::string>> lines;
  for (const char* batch : {"1", "7"}) {
    const std::string json = Path(std::string("batch") + batch + ".jsonl");
    ASSERT_EQ(
        Run({"--base", Path("base.fvecs"), "--queries", Path("queries.fvecs"),
             "--metric", "ip", "--methods", "renorm", "--bits", "2", "--layout",
             "full", "--nprobe", "2,all", "--batch", batch, "--json", json}),
        0)
        << err_.str();
    EXPECT_THAT(out_.str(), HasSubstr(std::string("batch=") + batch));
    lines.push_back(Lines(ReadAll(json)));
    ASSERT_EQ(lines.back().size(), 2u);
  }
  for (size_t i = 0; i < 2; ++i) {
    const std::string& one = lines[0][i];
    const std::string& batched = lines[1][i];
    CheckLine(batched);
    EXPECT_EQ(Num(one, "batch"), 1);
    EXPECT_EQ(Num(batched, "batch"), 7);
    EXPECT_EQ(Num(batched, "threads"), 1);
    EXPECT_EQ(Num(batched, "nprobe"), Num(one, "nprobe"));
    EXPECT_EQ(Num(batched, "recall10_at10"), Num(one, "recall10_at10"));
    EXPECT_EQ(Num(batched, "codes_per_query"), Num(one, "codes_per_query"));
    EXPECT_EQ(Num(batched, "bytes_per_query"), Num(one, "bytes_per_query"));
  }
}

// --rounds: every configuration timed once a round, interleaved; each row
// reports the median round with the slowest and fastest, and measures
// what a single-round run measures (the same searches).
TEST_F(BenchTest, InterleavedRounds) {
  std::vector<std::vector<std::string>> lines;
  for (const char* rounds : {"1", "3"}) {
    const std::string json = Path(std::string("rounds") + rounds + ".jsonl");
    ASSERT_EQ(Run({"--base", Path("base.fvecs"), "--queries",
                   Path("queries.fvecs"), "--metric", "ip", "--methods",
                   "renorm,pca", "--bits", "4", "--layout", "full,progressive",
                   "--nprobe", "2,all", "--rounds", rounds, "--json", json}),
              0)
        << err_.str();
    lines.push_back(Lines(ReadAll(json)));
    ASSERT_EQ(lines.back().size(), 8u) << out_.str();
  }
  // The table shows the spread of the rounds after each row.
  EXPECT_THAT(out_.str(), testing::ContainsRegex(R"(\[[0-9.]+-[0-9.]+\])"));
  for (size_t i = 0; i < lines[0].size(); ++i) {
    const std::string& one = lines[0][i];
    const std::string& three = lines[1][i];
    CheckLine(three);
    EXPECT_EQ(Num(one, "rounds"), 1);
    EXPECT_EQ(Num(one, "qps_min"), Num(one, "qps"));
    EXPECT_EQ(Num(one, "qps_max"), Num(one, "qps"));
    EXPECT_EQ(Num(three, "rounds"), 3);
    EXPECT_LE(Num(three, "qps_min"), Num(three, "qps"));
    EXPECT_GE(Num(three, "qps_max"), Num(three, "qps"));
    for (const char* key :
         {"nprobe", "recall10_at10", "codes_per_query", "refined_share",
          "bytes_per_query", "memory_bytes_per_code"}) {
      EXPECT_EQ(Num(three, key), Num(one, key)) << key << " of row " << i;
    }
    EXPECT_EQ(Str(three, "method"), Str(one, "method"));
    EXPECT_EQ(Str(three, "layout"), Str(one, "layout"));
  }
}

// --simd: every configuration timed under each cap in one process, the
// row naming the target that ran; the same results on every target.
TEST_F(BenchTest, SimdCapsInOneProcess) {
  const std::string json = Path("simd.jsonl");
  ASSERT_EQ(
      Run({"--base", Path("base.fvecs"), "--queries", Path("queries.fvecs"),
           "--metric", "ip", "--methods", "pca", "--bits", "4", "--nprobe", "2",
           "--simd", "sse4,scalar", "--rounds", "2", "--json", json}),
      0)
      << err_.str();
  const std::vector<std::string> lines = Lines(ReadAll(json));
  ASSERT_EQ(lines.size(), 2u) << out_.str();
  CheckLine(lines[1]);
  EXPECT_EQ(Str(lines[1], "simd"), "SCALAR");
  EXPECT_THAT(out_.str(), HasSubstr(" SCALAR ["));
  for (const char* key :
       {"recall10_at10", "codes_per_query", "refined_share"}) {
    EXPECT_EQ(Num(lines[0], key), Num(lines[1], key)) << key;
  }
  // The process's own target afterwards (no cap: the CPU's best).
  EXPECT_STRNE(kernels::ActiveTargetName(), "SCALAR");
}

// The scale regime: the base stacked three times, ground truth computed
// over all of it; every tqdb row says what a query read.
TEST_F(BenchTest, StackedBase) {
  const std::string json = Path("stacked.jsonl");
  ASSERT_EQ(
      Run({"--base", Path("base.fvecs"), "--queries", Path("queries.fvecs"),
           "--metric", "ip", "--methods", "renorm", "--bits", "4", "--nprobe",
           "4,all", "--rescore", "0,4", "--stack", "3", "--json", json}),
      0)
      << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("stacked: 3 rotated copies"));
  EXPECT_THAT(out_.str(), HasSubstr("KB/q"));
  const std::vector<std::string> lines = Lines(ReadAll(json));
  ASSERT_EQ(lines.size(), 4u);
  for (const std::string& line : lines) {
    CheckLine(line, 3 * kN);
    EXPECT_EQ(Str(line, "label"), "base x3");
    // At least the codes scanned, at most the centroids, codes and
    // rescored raw vectors of a whole scan.
    const double codes = Num(line, "codes_per_query");
    const double mem = Num(line, "memory_bytes_per_code");
    EXPECT_GE(Num(line, "bytes_per_query"), codes * mem) << line;
    EXPECT_LE(Num(line, "bytes_per_query"),
              (Num(line, "nlist") + 40 + 3 * kN) * 4 * kD + codes * mem)
        << line;
    EXPECT_GT(Num(line, "read_gbps"), 0) << line;
    if (Num(line, "nprobe") == Num(line, "nlist") &&
        Num(line, "rescore") == 4) {
      EXPECT_GE(Num(line, "recall10_at10"), 0.9) << line;
    }
  }
}

TEST_F(BenchTest, GroundTruthFileIsUsed) {
  // A ground truth that names row 0 as every query's neighbour: recall@1@64
  // is then the share of queries that return row 0, far below 1.
  std::vector<int32_t> gt(kNq * 10, 0);
  for (size_t i = 0; i < kNq; ++i) {
    for (int j = 0; j < 10; ++j) gt[i * 10 + j] = j;
  }
  WriteVecs(Path("fake_gt.ivecs"), gt.data(), kNq, 10);
  const std::string json = Path("gt.jsonl");
  ASSERT_EQ(
      Run({"--base", Path("base.fvecs"), "--queries", Path("queries.fvecs"),
           "--gt", Path("fake_gt.ivecs"), "--metric", "ip", "--methods",
           "renorm", "--bits", "4", "--nprobe", "all", "--json", json}),
      0)
      << err_.str();
  EXPECT_THAT(out_.str(), HasSubstr("fake_gt.ivecs"));
  EXPECT_THAT(out_.str(), ::testing::Not(HasSubstr("ground truth computed")));
  const std::vector<std::string> lines = Lines(ReadAll(json));
  ASSERT_EQ(lines.size(), 1u);
  CheckLine(lines[0]);
  EXPECT_LT(Num(lines[0], "recall10_at10"), 0.5);
}

TEST_F(BenchTest, FaissPeers) {
  if (!FaissAvailable()) {
    ASSERT_EQ(
        Run({"--base", Path("base.fvecs"), "--queries", Path("queries.fvecs"),
             "--metric", "ip", "--methods", "faiss", "--bits", "4"}),
        0);
    EXPECT_THAT(out_.str(), HasSubstr("without FAISS"));
    GTEST_SKIP() << "built without FAISS";
  }
  const std::string json = Path("faiss.jsonl");
  ASSERT_EQ(
      Run({"--base", Path("base.fvecs"), "--queries", Path("queries.fvecs"),
           "--metric", "ip", "--methods", "faiss", "--bits", "4", "--nlist",
           "20", "--nprobe", "4,all", "--rescore", "0,2", "--json", json}),
      0)
      << err_.str();
  const std::vector<std::string> lines = Lines(ReadAll(json));
  // ivfpq and ivfpqfs at 2 nprobes, refine at 2 nprobes x 1 factor.
  ASSERT_EQ(lines.size(), 6u);
  std::set<std::string> methods;
  for (const std::string& line : lines) {
    CheckLine(line);
    methods.insert(Str(line, "method"));
    EXPECT_EQ(Num(line, "nlist"), 20);
    EXPECT_LE(Num(line, "bytes_per_vector"), 4 * kD / 8 + 8);
    if (Str(line, "method") == "faiss-ivfpqfs-refine") {
      EXPECT_EQ(Num(line, "rescore"), 2);
    }
  }
  EXPECT_EQ(methods, (std::set<std::string>{"faiss-ivfpq", "faiss-ivfpqfs",
                                            "faiss-ivfpqfs-refine"}));
}

TEST_F(BenchTest, BadInputsExitTwoNamingFileOrFlag) {
  const std::string base = Path("base.fvecs"), q = Path("queries.fvecs");
  ExpectUsageError(
      {"--base", Path("missing.fvecs"), "--queries", q, "--metric", "ip"},
      "missing.fvecs");
  ExpectUsageError(
      {"--base", base, "--queries", Path("truncated.fvecs"), "--metric", "ip"},
      "truncated.fvecs");
  ExpectUsageError(
      {"--base", base, "--queries", Path("queries16.fvecs"), "--metric", "ip"},
      "dimension mismatch");
  ExpectUsageError(
      {"--base", base, "--queries", Path("queries16.fvecs"), "--metric", "ip"},
      "queries16.fvecs");
  ExpectUsageError({"--base", base, "--queries", q, "--metric", "ip",
                    "--methods", "renorm,opq"},
                   "--methods: 'opq'");
  ExpectUsageError({"--base", base, "--queries", q, "--metric", "hamming"},
                   "--metric");
  ExpectUsageError(
      {"--base", base, "--queries", q, "--metric", "ip", "--bits", "4,9"},
      "--bits");
  ExpectUsageError(
      {"--base", base, "--queries", q, "--metric", "ip", "--bits", "0"},
      "--bits");
  ExpectUsageError({"--base", base, "--queries", q, "--metric", "ip", "--gt",
                    Path("short_gt.ivecs")},
                   "short_gt.ivecs has 10 rows, fewer than the 50 queries");
  ExpectUsageError({"--base", base, "--queries", q, "--metric", "ip", "--gt",
                    Path("missing_gt.ivecs")},
                   "missing_gt.ivecs");
  ExpectUsageError({"--base", base, "--queries", q}, "--metric is required");
  ExpectUsageError(
      {"--base", base, "--queries", q, "--metric", "ip", "--stack", "0"},
      "--stack");
  ExpectUsageError({"--base", base, "--queries", q, "--metric", "ip", "--stack",
                    "2", "--gt", Path("short_gt.ivecs")},
                   "--gt cannot be used with --stack");
  ExpectUsageError(
      {"--base", base, "--queries", q, "--metric", "ip", "--nprobe", "4,x"},
      "--nprobe");
  ExpectUsageError(
      {"--base", base, "--queries", q, "--metric", "ip", "--nlist", "999999"},
      "--nlist");
  ExpectUsageError(
      {"--base", base, "--queries", q, "--metric", "ip", "--batch", "0"},
      "--batch");
  ExpectUsageError(
      {"--base", base, "--queries", q, "--metric", "ip", "--batch", "four"},
      "--batch");
  ExpectUsageError({"--base", base, "--queries", q, "--metric", "ip", "--batch",
                    "8", "--threads", "2"},
                   "--batch 8 needs --threads 1");
  ExpectUsageError(
      {"--base", base, "--queries", q, "--metric", "ip", "--rounds", "0"},
      "--rounds");
  ExpectUsageError(
      {"--base", base, "--queries", q, "--metric", "ip", "--simd", "avx3,avx9"},
      "--simd: 'avx9' is not a SIMD target");
  ExpectUsageError(
      {"--base", base, "--queries", q, "--metric", "ip", "--frobnicate", "1"},
      "--frobnicate");
}

TEST_F(BenchTest, HelpExitsZero) {
  EXPECT_EQ(Run({"--help"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("--nprobe"));
}

TEST(SvgTest, TicksAndFormatting) {
  EXPECT_EQ(svg::FormatTick(0), "0");
  EXPECT_EQ(svg::FormatTick(0.95), "0.95");
  EXPECT_EQ(svg::FormatTick(2000), "2k");
  EXPECT_EQ(svg::FormatTick(1500000), "1.5M");
  const std::vector<double> l2 = svg::Ticks(1, 64, svg::Scale::kLog2);
  EXPECT_EQ(l2, (std::vector<double>{1, 2, 4, 8, 16, 32, 64}));
  const std::vector<double> lin = svg::Ticks(0.5, 1.0, svg::Scale::kLinear);
  ASSERT_GE(lin.size(), 3u);
  EXPECT_NEAR(lin.front(), 0.5, 1e-12);
  EXPECT_NEAR(lin.back(), 1.0, 1e-12);
  const std::vector<double> lg = svg::Ticks(30, 9000, svg::Scale::kLog10);
  EXPECT_GE(lg.size(), 3u);
  EXPECT_LE(lg.size(), 10u);
  EXPECT_EQ(svg::Escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
  EXPECT_EQ(svg::Lighten("#000000", 1.0), "#ffffff");
}

TEST(SvgTest, ChartDocument) {
  svg::Chart c;
  c.title = "t <1>";
  c.x = {"x", svg::Scale::kLog10};
  c.y = {"y", svg::Scale::kLinear};
  svg::Series s;
  s.points = {{10, 0.5}, {100, 0.7}, {-1, 0.2}, {1000, NAN}, {1000, 0.9}};
  c.series.push_back(s);
  svg::Document doc(800, 500);
  doc.AddChart(c, 0, 0, 800, 440);
  doc.AddLegend({{"series", s.style}}, 10, 450, 780, 2);
  const std::string out = doc.ToString();
  EXPECT_THAT(out, StartsWith("<svg"));
  EXPECT_THAT(out, HasSubstr("t &lt;1&gt;"));
  EXPECT_THAT(out, HasSubstr("<polyline"));
  EXPECT_THAT(out, ::testing::EndsWith("</svg>\n"));
}

}  // namespace
}  // namespace tqdb
