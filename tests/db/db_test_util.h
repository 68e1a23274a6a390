// Helpers shared by the db/ tests: temporary directories, random points,
// brute-force references.
#ifndef TQDB_TESTS_DB_DB_TEST_UTIL_H_
#define TQDB_TESTS_DB_DB_TEST_UTIL_H_

#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "db/db.h"
#include "db/filter_json.h"
#include "db/format.h"
#include "gtest/gtest.h"
#include "quant/random.h"
#include "rocksdb/db.h"

namespace tqdb {
namespace dbtest {

// Built with ASan or TSan (gcc defines __SANITIZE_*, clang has
// __has_feature). A sanitized round of a race or crash test costs 3-10x;
// the sanitizer stages run fewer rounds (each round still races or
// crashes), the release run all of them.
#if defined(__has_feature)
#define TQDB_TEST_HAS_FEATURE(x) __has_feature(x)
#else
#define TQDB_TEST_HAS_FEATURE(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || TQDB_TEST_HAS_FEATURE(address_sanitizer)
constexpr bool kAddressSanitized = true;
#else
constexpr bool kAddressSanitized = false;
#endif
#if defined(__SANITIZE_THREAD__) || TQDB_TEST_HAS_FEATURE(thread_sanitizer)
constexpr bool kThreadSanitized = true;
#else
constexpr bool kThreadSanitized = false;
#endif
#undef TQDB_TEST_HAS_FEATURE
constexpr bool kSanitized = kAddressSanitized || kThreadSanitized;
// TSan alone: a racing round there costs ~5x an ASan one (db_edges_test's
// create-racing-drop, 100 rounds: 53 s against 11 s), and TSan reports a
// race from the accesses' order, whether or not a round went wrong. So
// the create-racing-drop tests run 40 rounds under TSan, 100 under ASan
// and `release` (1,500 / 300) in the release run.
constexpr int RacingRounds(int release) {
  return kThreadSanitized ? 40 : kSanitized ? 100 : release;
}

// A fresh directory under /tmp, removed (recursively) on destruction, unless
// TQDB_KEEP_TMP is set in the environment (to look at a failed test's files).
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/tqdb_db_test_XXXXXX";
    char* p = mkdtemp(tmpl);
    path_ = p ? p : "/tmp/tqdb_db_test_failed";
  }
  ~TempDir() {
    std::error_code ec;
    if (getenv("TQDB_KEEP_TMP") == nullptr) {
      std::filesystem::remove_all(path_, ec);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Deterministic random unit vector for (id, version).
inline std::vector<float> VectorFor(uint64_t id, uint64_t version, uint32_t d) {
  Rng rng(id * 1000003ull + version * 7919ull + 17);
  std::vector<float> v(d);
  double s = 0;
  for (float& x : v) {
    x = static_cast<float>(rng.Gaussian());
    s += double{x} * x;
  }
  const float inv = static_cast<float>(1.0 / std::sqrt(s));
  for (float& x : v) x *= inv;
  return v;
}

inline std::vector<Point> MakePoints(uint64_t first_id, size_t n, uint32_t d,
                                     uint64_t version = 0,
                                     bool with_payload = true) {
  std::vector<Point> pts(n);
  for (size_t i = 0; i < n; ++i) {
    pts[i].id = first_id + i;
    pts[i].vector = VectorFor(first_id + i, version, d);
    if (with_payload) {
      pts[i].payload = "{\"id\":" + std::to_string(first_id + i) +
                       ",\"v\":" + std::to_string(version) + "}";
    }
  }
  return pts;
}

// Exact top-k ids (goodness as the index defines it).
inline std::vector<uint64_t> BruteForce(const std::vector<Point>& pts,
                                        const std::vector<float>& q, Metric m,
                                        size_t k) {
  std::vector<std::pair<double, uint64_t>> s;
  double qn = 0;
  for (float x : q) qn += double{x} * x;
  qn = std::sqrt(qn);
  for (const Point& p : pts) {
    double dot = 0, vn = 0, l2 = 0;
    for (size_t j = 0; j < q.size(); ++j) {
      dot += double{q[j]} * p.vector[j];
      vn += double{p.vector[j]} * p.vector[j];
      const double t = double{q[j]} - p.vector[j];
      l2 += t * t;
    }
    double g = dot;
    if (m == Metric::kCosine) g = dot / (qn * std::sqrt(vn));
    if (m == Metric::kL2) g = -l2;
    s.push_back({g, p.id});
  }
  std::sort(s.begin(), s.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < std::min(k, s.size()); ++i) ids.push_back(s[i].second);
  return ids;
}

inline std::vector<uint64_t> Ids(const std::vector<Neighbor>& r) {
  std::vector<uint64_t> ids;
  for (const Neighbor& n : r) ids.push_back(n.id);
  return ids;
}

// 10-recall@10 of `got` against `truth`, query by query (ids).
inline double Recall10At10(const std::vector<std::vector<Neighbor>>& got,
                           const std::vector<std::vector<Neighbor>>& truth) {
  double hit = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    std::set<uint64_t> t;
    for (const Neighbor& n : truth[i]) t.insert(n.id);
    for (const Neighbor& n : got[i]) hit += t.count(n.id);
  }
  return hit / (10.0 * got.size());
}

// A filter from Qdrant's JSON syntax (a failed test and no filter when it
// does not parse), shared as QueryOptions and the other options hold it.
inline std::shared_ptr<const Filter> ParsedFilter(const std::string& text) {
  auto f = ParseFilterJson(text);
  EXPECT_TRUE(f.ok()) << text << ": " << f.status();
  return std::make_shared<const Filter>(f.ok() ? *f : Filter());
}

// Makes the closed database at `dir` look as an older format version left
// it: without the column family `family` (added since), the format entry
// at `version`.
inline void MakeOlderFormat(const std::string& dir, const std::string& family,
                            uint32_t version) {
  rocksdb::DBOptions dbo;
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(dbo, dir, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (const std::string& n : names) {
    descs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> hs;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(dbo, dir, descs, &hs, &raw).ok());
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == family) {
      ASSERT_TRUE(raw->DropColumnFamily(hs[i]).ok());
    }
    if (names[i] == dbformat::kMetaCf) {
      ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), hs[i],
                           std::string(dbformat::kFormatKey),
                           dbformat::EncodeFormat(version))
                      .ok());
    }
  }
  for (auto* h : hs) ASSERT_TRUE(raw->DestroyColumnFamilyHandle(h).ok());
  delete raw;
}

// A database at `dir` that trains only when a test says so (no background
// training), with `threads` search threads (0: the default).
inline std::unique_ptr<Database> OpenManual(const std::string& dir,
                                            uint32_t threads = 0) {
  DatabaseOptions o;
  o.background_training = false;
  o.threads = threads;
  auto db = Database::Open(dir, o);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

// An inner-product collection (nlist 0: chosen at training).
inline std::shared_ptr<Collection> CreateIp(Database* db,
                                            const std::string& name,
                                            uint32_t dim, uint32_t nlist = 0) {
  CollectionConfig c;
  c.name = name;
  c.dim = dim;
  c.metric = Metric::kInnerProduct;
  c.nlist = nlist;
  EXPECT_TRUE(db->CreateCollection(c).ok());
  auto got = db->GetCollection(name);
  EXPECT_TRUE(got.ok()) << got.status();
  return got.ok() ? *got : nullptr;
}

// A test over collection "c" (inner product, `dim`) whose points' payloads
// it makes (PayloadFor) and keeps beside it (payloads_), to compare the
// collection's answers with its own.
class PayloadCollectionTest : public ::testing::Test {
 protected:
  PayloadCollectionTest(uint32_t dim, uint64_t seed) : dim_(dim), rng_(seed) {}

  void SetUp() override {
    db_ = OpenManual(tmp_.path(), 2);
    c_ = CreateIp(db_.get(), "c", dim_);
  }

  virtual nlohmann::json PayloadFor(uint64_t id, Rng* rng) = 0;

  // Upserts points first .. first + n - 1 with new payloads (waiting).
  void Write(uint64_t first, uint64_t n) {
    std::vector<Point> pts;
    for (uint64_t id = first; id < first + n; ++id) {
      payloads_[id] = PayloadFor(id, &rng_);
      pts.push_back({id, VectorFor(id, 0, dim_), payloads_[id].dump()});
    }
    ASSERT_TRUE(c_->Upsert(pts, true).ok());
  }

  // The ids the filter matches, by a scroll of every page at once; its
  // count must agree.
  std::vector<uint64_t> Matches(const std::string& filter) const {
    ScrollOptions o;
    o.filter = ParsedFilter(filter);
    o.limit = 1000000;
    o.with_payload = false;
    auto page = c_->Scroll(o);
    EXPECT_TRUE(page.ok()) << filter << ": " << page.status();
    std::vector<uint64_t> ids;
    if (page.ok()) {
      for (const Record& r : page->points) ids.push_back(r.id);
    }
    EXPECT_EQ(Count(filter), ids.size()) << filter;
    return ids;
  }

  uint64_t Count(const std::string& filter) const {
    auto c = c_->Count(*ParsedFilter(filter));
    EXPECT_TRUE(c.ok()) << filter << ": " << c.status();
    return c.ok() ? c->count : 0;
  }

  // A "must" of `condition` (JSON) matches `want` (ascending ids), and, with
  // has_id beside it, each id below `checked` alone or nothing (the
  // condition checked point by point).
  void ExpectMatches(const std::string& condition,
                     const std::vector<uint64_t>& want, uint64_t checked = 40) {
    const std::string filter = "{\"must\": [" + condition + "]}";
    EXPECT_EQ(Matches(filter), want) << filter;
    for (uint64_t id = 0; id < checked; ++id) {
      const std::string one = "{\"must\": [{\"has_id\": [" +
                              std::to_string(id) + "]}, " + condition + "]}";
      EXPECT_EQ(Count(one),
                std::binary_search(want.begin(), want.end(), id) ? 1u : 0u)
          << one;
    }
  }

  // Closes the database and opens it again; c_ is "c" again.
  void Reopen() {
    c_.reset();
    ASSERT_TRUE(db_->Close().ok());
    db_ = OpenManual(tmp_.path(), 2);
    auto c = db_->GetCollection("c");
    ASSERT_TRUE(c.ok()) << c.status();
    c_ = *c;
  }

  const uint32_t dim_;
  TempDir tmp_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> c_;
  Rng rng_;
  std::map<uint64_t, nlohmann::json> payloads_;
};

}  // namespace dbtest
}  // namespace tqdb

#endif  // TQDB_TESTS_DB_DB_TEST_UTIL_H_
