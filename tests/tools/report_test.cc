// Tests of `tqdb bench --report` (tools/bench/report.h): the quick report on
// the shared data has every section, parseable charts and sane recall numbers.
#include "tools/bench/report.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/bench/commands.h"

namespace tqdb {
namespace {

using ::testing::HasSubstr;

std::string DataDir() {
  const char* env = std::getenv("TQDB_SHARED_DATA");
  return env != nullptr && *env ? env : TQDB_SHARED_DATA;
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

bool HaveData() {
  const std::string d = DataDir();
  return Exists(d + "/glove100-wink/glove100_base_100k.fvecs") &&
         Exists(d + "/use512-debian-pkgdesc/debdesc_use512_base_20k.fvecs");
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos;
       p = s.find(what, p + 1)) {
    ++n;
  }
  return n;
}

std::string StrField(const std::string& line, const std::string& key) {
  const std::string k = "\"" + key + "\":\"";
  const size_t p = line.find(k);
  if (p == std::string::npos) return "";
  const size_t e = line.find('"', p + k.size());
  return line.substr(p + k.size(), e - p - k.size());
}

double NumField(const std::string& line, const std::string& key) {
  const std::string k = "\"" + key + "\":";
  const size_t p = line.find(k);
  if (p == std::string::npos) return NAN;
  return std::strtod(line.c_str() + p + k.size(), nullptr);
}

// recall1_at values for k = 1, 2, ..., 64 of a recall.jsonl line.
std::vector<double> RecallAt(const std::string& line) {
  std::vector<double> r;
  const size_t p = line.find("\"recall1_at\":{");
  if (p == std::string::npos) return r;
  const std::string sub = line.substr(p);
  for (int k = 1; k <= 64; k *= 2) {
    r.push_back(NumField(sub, std::to_string(k)));
  }
  return r;
}

void CheckSections(const std::string& dir) {
  const std::string md = ReadAll(dir + "/report.md");
  for (const char* s : {"# TurboQuant vs product quantization",
                        "## Setup",
                        "- Command: `",
                        "- Date: ",
                        "- Runtime: ",
                        "- Machine: ",
                        "SIMD target",
                        "one thread",
                        "### Data",
                        "### Protocol and equal bytes",
                        "## 1. The paper's experiment",
                        "**Flat (no IVF)**",
                        "**IVF, nlist",
                        "## 2. Indexing time",
                        "## 3. Ablations",
                        "### (a) Sign sketch on/off at equal bytes",
                        "### (b) Residual (centred) vs raw encoding",
                        "### (c) Gaussian vs structured sketch matrix",
                        "### (d) Exact-Beta vs Gaussian codebook at low d",
                        "## 4. Inner-product error",
                        "## 5. Verdict",
                        "pca (ours)",
                        "TQ renorm",
                        "TQ prod",
                        "TQ mse",
                        "PQ 4-bit FastScan (ours)"}) {
    EXPECT_THAT(md, HasSubstr(s));
  }
}

void CheckSvgs(const std::string& dir) {
  const std::string md = ReadAll(dir + "/report.md");
  for (const char* f :
       {"recall_glove100-wink.svg", "recall_use512-debian-pkgdesc.svg",
        "ablations_glove100-wink.svg", "ablations_use512-debian-pkgdesc.svg",
        "iperror_glove100-wink.svg", "iperror_use512-debian-pkgdesc.svg",
        "codebook.svg"}) {
    SCOPED_TRACE(f);
    const std::string svg = ReadAll(dir + "/" + f);
    ASSERT_GT(svg.size(), 500u);
    EXPECT_EQ(svg.rfind("<svg", 0), 0u);
    EXPECT_EQ(Count(svg, "<svg"), 1u);
    EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
    // Every element opened is closed (self-closing or with an end tag).
    EXPECT_EQ(Count(svg, "<"), 2 * Count(svg, "</") + Count(svg, "/>"));
    EXPECT_GT(Count(svg, "<polyline"), 0u);  // at least one drawn line
    EXPECT_THAT(md, HasSubstr(std::string("(") + f + ")"));
  }
}

void CheckRecall(const std::string& dir) {
  std::istringstream in(ReadAll(dir + "/recall.jsonl"));
  std::string line;
  size_t lines = 0;
  std::map<std::string, std::vector<double>> by_key;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++lines;
    SCOPED_TRACE(line);
    const std::vector<double> r = RecallAt(line);
    ASSERT_EQ(r.size(), 7u);
    for (size_t j = 0; j < r.size(); ++j) {
      EXPECT_GE(r[j], 0.0);
      EXPECT_LE(r[j], 1.0);
      if (j > 0) {
        EXPECT_GE(r[j], r[j - 1]);  // recall@1@k grows with k
      }
    }
    EXPECT_GE(r[6], r[0]);
    by_key[StrField(line, "dataset") + "/" + StrField(line, "experiment") +
           "/" + StrField(line, "layout") + "/" + StrField(line, "method") +
           "/" +
           std::to_string(static_cast<int>(NumField(line, "bits_per_dim")))] =
        r;
  }
  // 7 methods x 2 layouts x 2 data sets in the main experiment at least.
  EXPECT_GE(lines, 28u);
  for (const char* ds : {"glove100-wink", "use512-debian-pkgdesc"}) {
    for (const char* layout : {"flat", "ivf"}) {
      SCOPED_TRACE(std::string(ds) + " " + layout);
      const std::string p = std::string(ds) + "/";
      // More bits, more recall: renorm at 4 bits vs 2 bits, at k = 1 and
      // summed over k.
      auto four = by_key.find(p + "main/" + layout + "/renorm/4");
      auto two = by_key.find(p + "main/" + layout + "/renorm/2");
      ASSERT_NE(four, by_key.end());
      ASSERT_NE(two, by_key.end());
      EXPECT_GE(four->second[0], two->second[0]);
      double sum4 = 0, sum2 = 0;
      for (int j = 0; j < 7; ++j) {
        sum4 += four->second[j];
        sum2 += two->second[j];
      }
      EXPECT_GE(sum4, sum2);
      // Every method finds the true neighbour among 64 results for most
      // queries at 2 bits.
      for (const char* m : {"mse", "prod", "renorm", "pca", "pq"}) {
        auto it = by_key.find(p + "main/" + layout + "/" + m + "/2");
        ASSERT_NE(it, by_key.end()) << m;
        EXPECT_GT(it->second[6], 0.9) << m;
        EXPECT_GT(it->second[0], 0.2) << m;
      }
    }
  }
}

void CheckIpError(const std::string& dir) {
  // TurboQuant mse shrinks inner products (negative bias on the positively
  // correlated use512 pairs); renorm removes most of it.
  std::istringstream in(ReadAll(dir + "/iperror.jsonl"));
  std::string line;
  double mse_bias = NAN, renorm_bias = NAN;
  while (std::getline(in, line)) {
    if (StrField(line, "dataset") != "use512-debian-pkgdesc") continue;
    if (NumField(line, "bits_per_dim") != 2) continue;
    if (StrField(line, "method") == "mse") mse_bias = NumField(line, "bias");
    if (StrField(line, "method") == "renorm") {
      renorm_bias = NumField(line, "bias");
    }
  }
  ASSERT_FALSE(std::isnan(mse_bias));
  ASSERT_FALSE(std::isnan(renorm_bias));
  EXPECT_LT(mse_bias, 0.0);
  EXPECT_LT(std::fabs(renorm_bias), std::fabs(mse_bias));
}

// One test (ctest runs each test in its own process, and the quick report
// takes most of a minute): runs it into a temporary directory, then checks
// the markdown, the charts and the numbers.
TEST(ReportTest, QuickReportIsCompleteAndSane) {
  if (!HaveData()) {
    GTEST_SKIP() << "shared data not found under " << DataDir()
                 << " (set TQDB_SHARED_DATA)";
  }
  char tmpl[] = "/tmp/tqdb_report_test_XXXXXX";
  const char* made = mkdtemp(tmpl);
  ASSERT_NE(made, nullptr);
  const std::string dir = made;
  ReportOptions o;
  o.out_dir = dir;
  o.data_dir = DataDir();
  o.quick = true;
  o.command = "tqdb bench --report DIR --quick (report_test)";
  std::ostringstream log;
  const absl::Status st = WriteReport(o, log);
  ASSERT_TRUE(st.ok()) << st.message() << "\n" << log.str();
  {
    SCOPED_TRACE("sections");
    CheckSections(dir);
  }
  {
    SCOPED_TRACE("svgs");
    CheckSvgs(dir);
  }
  {
    SCOPED_TRACE("recall");
    CheckRecall(dir);
  }
  {
    SCOPED_TRACE("inner-product error");
    CheckIpError(dir);
  }
  std::system(("rm -rf '" + dir + "'").c_str());
}

TEST(ReportCliTest, MissingDataExitsTwo) {
  std::ostringstream out, err;
  const int rc = RunBench({"--report", "/tmp/tqdb_report_never_written",
                           "--data", "/nonexistent/tqdb/data", "--quick"},
                          out, err);
  EXPECT_EQ(rc, 2);
  EXPECT_THAT(err.str(), HasSubstr("shared data not found"));
  EXPECT_FALSE(Exists("/tmp/tqdb_report_never_written"));
}

TEST(ReportCliTest, MissingDirIsAUsageError) {
  std::ostringstream out, err;
  EXPECT_EQ(RunBench({"--report="}, out, err), 2);
}

}  // namespace
}  // namespace tqdb
