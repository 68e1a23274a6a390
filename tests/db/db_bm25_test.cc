// BM25 full-text ranking (db/bm25.h): the term hash against MurmurHash3's
// published values, Snowball stemming, the document weights by their
// formula, the settings' rules and their record (version 4, a reopen), and
// a collection's texts ranked exactly as the test's own BM25 over term
// strings (no hashing) ranks them.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "db/bm25.h"
#include "db/db.h"
#include "db/format.h"
#include "db/sparse_index.h"
#include "gtest/gtest.h"
#include "tests/db/db_test_util.h"

namespace tqdb {
namespace {

using dbtest::OpenManual;
using dbtest::TempDir;
using dbtest::VectorFor;

constexpr uint32_t kDim = 8;

TEST(Bm25Terms, HashIsMurmur3AndWordsAreStemmed) {
  // MurmurHash3_x86_32 with seed 0, as published.
  EXPECT_EQ(Bm25TermIndex(""), 0u);
  EXPECT_EQ(Bm25TermIndex("hello"), 0x248bfa47u);
  EXPECT_EQ(Bm25TermIndex("The quick brown fox jumps over the lazy dog"),
            0x2e4ff723u);
  Bm25Config english;
  EXPECT_EQ(Bm25Terms(english, "Running runners RUN, ran!"),
            (std::vector<std::string>{"run", "runner", "run", "ran"}));
  Bm25Config none;
  none.language = "none";
  EXPECT_EQ(Bm25Terms(none, "Running runners RUN"),
            (std::vector<std::string>{"running", "runners", "run"}));
  Bm25Config french;
  french.language = "french";
  EXPECT_EQ(Bm25Terms(french, "Les chanteuses chantaient"),
            (std::vector<std::string>{"le", "chanteux", "chant"}));
  EXPECT_TRUE(Bm25Terms(english, " ,;!? ").empty());
}

TEST(Bm25Terms, DocumentWeightsFollowTheFormula) {
  Bm25Config c;
  c.k1 = 1.5f;
  c.b = 0.5f;
  c.avg_len = 4;
  // 6 words: "cat" x3, "dog" x2, "bird" x1 (plurals stemmed).
  const SparseVector v = Bm25Document(c, "Cats cat CAT dog dogs bird");
  ASSERT_EQ(v.indices.size(), 3u);
  EXPECT_TRUE(std::is_sorted(v.indices.begin(), v.indices.end()));
  const double norm = 1.5 * (1 - 0.5 + 0.5 * 6 / 4.0);
  auto weight = [&](double tf) { return tf * 2.5 / (tf + norm); };
  const std::map<uint32_t, double> want = {{Bm25TermIndex("cat"), weight(3)},
                                           {Bm25TermIndex("dog"), weight(2)},
                                           {Bm25TermIndex("bird"), weight(1)}};
  for (size_t i = 0; i < v.indices.size(); ++i) {
    ASSERT_TRUE(want.count(v.indices[i])) << v.indices[i];
    EXPECT_NEAR(v.values[i], want.at(v.indices[i]), 1e-6);
  }
  // A query: each distinct term once, weight 1.
  const SparseVector q = Bm25Query(c, "dog Dogs cat");
  EXPECT_EQ(q.indices.size(), 2u);
  EXPECT_EQ(q.values, (std::vector<float>{1, 1}));
  EXPECT_TRUE(Bm25Document(c, "...").empty());
}

TEST(Bm25Config, RulesAndRecord) {
  Bm25Config c;
  c.language = "English";
  EXPECT_TRUE(ValidateBm25Config(&c).ok());
  EXPECT_EQ(c.language, "english");
  auto rejects = [](Bm25Config b, absl::string_view what) {
    const absl::Status s = ValidateBm25Config(&b);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << what;
    EXPECT_TRUE(absl::StrContains(s.message(), what)) << s.message();
  };
  Bm25Config bad;
  bad.k1 = -1;
  rejects(bad, "k1");
  bad = Bm25Config();
  bad.b = 1.5f;
  rejects(bad, "b must be in [0, 1]");
  bad = Bm25Config();
  bad.avg_len = 0;
  rejects(bad, "avg_len");
  bad = Bm25Config();
  bad.language = "klingon";
  rejects(bad, "'klingon' has no Snowball stemmer; one of arabic");
  // Record version 4 with the settings; a collection without them is
  // written at the oldest version that holds its settings, as before.
  dbformat::CollectionRecord r;
  r.cid = 3;
  r.config.name = "t";
  r.config.dim = 4;
  r.config.bm25 = Bm25Config{"german", 0.9f, 0.4f, 33.0f};
  const std::string v4 = dbformat::EncodeRecord(r);
  auto back = dbformat::DecodeRecord(v4);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_TRUE(back->config.bm25.has_value());
  EXPECT_EQ(*back->config.bm25, *r.config.bm25);
  r.config.bm25.reset();
  const std::string v1 = dbformat::EncodeRecord(r);
  EXPECT_LT(v1.size(), v4.size());
  back = dbformat::DecodeRecord(v1);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_FALSE(back->config.bm25.has_value());
}

// A seeded corpus: documents of 3-40 words drawn from a Zipf-like
// vocabulary of inflected English words (so stemming merges some).
std::vector<std::string> Corpus(size_t n) {
  const std::vector<std::string> words = {
      "search",     "searching",    "searches",  "vector",   "vectors",
      "database",   "index",        "indexes",   "indexed",  "query",
      "queries",    "the",          "a",         "of",       "and",
      "compressed", "quantization", "quantized", "fast",     "faster",
      "fastest",    "recall",       "memory",    "cluster",  "clusters",
      "shard",      "shards",       "replica",   "replicas", "text",
      "texts",      "ranking",      "ranked",    "rank",     "score",
      "scores",     "scoring",      "filter",    "filters",  "filtered",
      "payload"};
  std::vector<std::string> out;
  uint64_t s = 88172645463325252ull;
  auto next = [&] {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  };
  for (size_t i = 0; i < n; ++i) {
    const size_t len = 3 + next() % 38;
    std::string doc;
    for (size_t j = 0; j < len; ++j) {
      // Rank r with probability ~ 1 / (r + 1).
      const double u = static_cast<double>(next() % 1000000) / 1e6;
      const size_t r = static_cast<size_t>(
          std::pow(static_cast<double>(words.size() + 1), u) - 1);
      absl::StrAppend(&doc, j ? (j % 7 == 0 ? ", " : " ") : "",
                      words[std::min(r, words.size() - 1)]);
    }
    out.push_back(doc);
  }
  return out;
}

// The test's own BM25 of `query` over `docs` (id -> text), by term strings:
// sum over the query's distinct terms of IDF * tf (k1 + 1) / (tf + k1 (1 -
// b + b |d| / avg_len)), IDF = ln(1 + (N - n + 0.5) / (n + 0.5)) over the
// documents with at least one word.
std::vector<std::pair<uint64_t, double>> OwnBm25(
    const Bm25Config& c, const std::map<uint64_t, std::string>& docs,
    const std::string& query, size_t k) {
  std::map<uint64_t, std::map<std::string, int>> tf;
  std::map<uint64_t, size_t> len;
  std::map<std::string, int> holders;
  for (const auto& [id, text] : docs) {
    const std::vector<std::string> terms = Bm25Terms(c, text);
    if (terms.empty()) continue;
    len[id] = terms.size();
    for (const std::string& t : terms) ++tf[id][t];
    for (const auto& [t, n] : tf[id]) ++holders[t];
  }
  const double n_docs = static_cast<double>(len.size());
  const std::vector<std::string> qt = Bm25Terms(c, query);
  const std::set<std::string> distinct(qt.begin(), qt.end());
  std::vector<std::pair<uint64_t, double>> scored;
  for (const auto& [id, counts] : tf) {
    double score = 0;
    bool any = false;
    for (const std::string& t : distinct) {
      const auto at = counts.find(t);
      if (at == counts.end()) continue;
      any = true;
      const double n = holders[t];
      const double idf = std::log(1 + (n_docs - n + 0.5) / (n + 0.5));
      const double f = at->second;
      score += idf * f * (c.k1 + 1) /
               (f + c.k1 * (1 - c.b + c.b * len[id] / c.avg_len));
    }
    if (any) scored.push_back({id, score});
  }
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) {
    return a.second > b.second || (a.second == b.second && a.first < b.first);
  });
  if (scored.size() > k) scored.resize(k);
  return scored;
}

// The collection's BM25 search, as the API runs it: the query's terms
// weighed by their IDF over the collection, then SearchSparse.
std::vector<Neighbor> SearchText(const Collection& c, const std::string& q,
                                 uint32_t k) {
  SparseVector v = Bm25Query(*c.config().bm25, q);
  auto stats = c.SparseStats(v.indices);
  EXPECT_TRUE(stats.ok()) << stats.status();
  ApplyIdf(*stats, &v);
  QueryOptions o;
  o.k = k;
  auto hits = c.SearchSparse(v, o);
  EXPECT_TRUE(hits.ok()) << hits.status();
  return hits.ok() ? *hits : std::vector<Neighbor>();
}

void ExpectSameRanking(const std::vector<Neighbor>& got,
                       const std::vector<std::pair<uint64_t, double>>& want,
                       const std::string& query) {
  ASSERT_EQ(got.size(), want.size()) << query;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i].score, want[i].second, 2e-4 * (1 + want[i].second))
        << query << " #" << i;
    // Ties within float rounding may swap; elsewhere the same point.
    if (i + 1 < want.size() && want[i].second - want[i + 1].second > 1e-3 &&
        (i == 0 || want[i - 1].second - want[i].second > 1e-3)) {
      EXPECT_EQ(got[i].id, want[i].first) << query << " #" << i;
    }
  }
}

TEST(DbBm25, TextsRankAsTheirOwnBm25ThroughWritesAndReopen) {
  TempDir dir;
  Bm25Config bm25;
  bm25.avg_len = 20;
  std::map<uint64_t, std::string> truth;
  const std::vector<std::string> queries = {"fast vector search",
                                            "Ranked scores",
                                            "the filtered payloads",
                                            "replica of a shard",
                                            "compressed quantized indexes",
                                            "memory",
                                            "clusters and texts"};
  {
    auto db = OpenManual(dir.sub("db"));
    CollectionConfig cfg;
    cfg.name = "docs";
    cfg.dim = kDim;
    cfg.bm25 = bm25;
    ASSERT_TRUE(db->CreateCollection(cfg).ok());
    auto c = *db->GetCollection("docs");
    const std::vector<std::string> corpus = Corpus(400);
    std::vector<Point> pts;
    for (uint64_t id = 0; id < corpus.size(); ++id) {
      Point p{id, VectorFor(id, 0, kDim), ""};
      if (id % 10 != 0) {  // every tenth without a text
        p.text = corpus[id];
        truth[id] = corpus[id];
      }
      pts.push_back(std::move(p));
    }
    ASSERT_TRUE(c->Upsert(pts, true).ok());
    // Replacements: new texts for some, none for others; UpdateVectors
    // with a text replaces the sparse vector, without one keeps it.
    std::vector<Point> again;
    for (uint64_t id = 1; id < 60; id += 6) {
      again.push_back({id, VectorFor(id, 1, kDim), ""});
      truth.erase(id);
    }
    for (uint64_t id = 3; id < 60; id += 6) {
      again.push_back({id, VectorFor(id, 1, kDim), ""});
      again.back().text = corpus[399 - id];
      truth[id] = corpus[399 - id];
    }
    ASSERT_TRUE(c->Upsert(again, true).ok());
    std::vector<Point> vectors = {{5, VectorFor(5, 2, kDim), ""},
                                  {7, VectorFor(7, 2, kDim), ""}};
    vectors[0].text = "fastest replicas ranking";
    truth[5] = vectors[0].text;
    ASSERT_TRUE(c->UpdateVectors(vectors, true).ok());
    for (const std::string& q : queries) {
      ExpectSameRanking(SearchText(*c, q, 10), OwnBm25(bm25, truth, q, 10), q);
    }
    auto info = c->Info();
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->sparse_points, truth.size());
  }
  // The settings and the weights survive a reopen.
  auto db = OpenManual(dir.sub("db"));
  auto c = *db->GetCollection("docs");
  ASSERT_TRUE(c->config().bm25.has_value());
  EXPECT_EQ(*c->config().bm25, bm25);
  for (const std::string& q : queries) {
    ExpectSameRanking(SearchText(*c, q, 10), OwnBm25(bm25, truth, q, 10), q);
  }
}

TEST(DbBm25, TextsNeedTheSettingsAndGoAlone) {
  TempDir dir;
  auto db = OpenManual(dir.sub("db"));
  auto plain = dbtest::CreateIp(db.get(), "plain", kDim);
  Point p{1, VectorFor(1, 0, kDim), ""};
  p.text = "some words";
  absl::Status s = plain->Upsert({p}, true);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(
      s.message(), "point 0 (id 1): collection 'plain' has no bm25 settings"))
      << s;
  CollectionConfig cfg;
  cfg.name = "docs";
  cfg.dim = kDim;
  cfg.bm25 = Bm25Config();
  cfg.bm25->b = 2;
  s = db->CreateCollection(cfg).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(), "bm25 b must be in [0, 1]")) << s;
  cfg.bm25->b = 0.75f;
  ASSERT_TRUE(db->CreateCollection(cfg).ok());
  auto c = *db->GetCollection("docs");
  p.sparse = SparseVector{{4}, {1.0f}};
  s = c->Upsert({p}, true);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(), "a text and a sparse vector"))
      << s;
  auto info = c->Info();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->count, 0u);
  // ResolvePointTexts (a cluster node's) turns texts into the vectors the
  // collection stores for them, and names the point it refuses.
  std::vector<Point> pts = {{2, VectorFor(2, 0, kDim), ""}};
  pts[0].text = "Vectors, vectors";
  ASSERT_TRUE(ResolvePointTexts(c->config(), &pts).ok());
  EXPECT_TRUE(pts[0].text.empty());
  EXPECT_EQ(pts[0].sparse, Bm25Document(*cfg.bm25, "vector vector"));
  pts[0].text = "again";
  EXPECT_TRUE(absl::StrContains(ResolvePointTexts(c->config(), &pts).message(),
                                "point 0 (id 2): a text and a sparse vector"));
}

}  // namespace
}  // namespace tqdb
