// db/: a pca collection's query weighting (CollectionConfig::pca_weighting):
// whether its training codes the residuals weighted as queries like the
// data see them. The setting reaches the training (the info's codec says
// what it built), survives reopen with the same results, is validated
// (pca only), and is kept in the collection record's version 5, older
// records reading as off.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "db/db.h"
#include "db/format.h"
#include "gtest/gtest.h"
#include "tests/db/db_test_util.h"

namespace tqdb {
namespace {

using dbtest::Ids;
using dbtest::OpenManual;
using dbtest::TempDir;

// Gaussian rows whose axis j has standard deviation 0.9^j: anisotropic,
// as embeddings' residuals are.
std::vector<Point> AnisotropicPoints(size_t n, size_t d, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<Point> pts(n);
  for (size_t i = 0; i < n; ++i) {
    pts[i].id = i;
    for (size_t j = 0; j < d; ++j) {
      pts[i].vector.push_back(g(rng) * std::pow(0.9f, static_cast<float>(j)));
    }
  }
  return pts;
}

bool Weighted(const CollectionInfo& info) {
  return info.codec.find("weighted") != std::string::npos;
}

// On and off train what they say; auto trains one of the two (which one is
// the index's choice, tested in tests/index: IvfIndexTest.
// QueryWeightingChosenOnUse512). Each reports its setting and codec, and
// after reopen the same codec and the same results.
TEST(DbPcaWeighting, TrainingObeysAndSurvivesReopen) {
  constexpr size_t kDim = 32, kPoints = 2000;
  const std::vector<Point> pts = AnisotropicPoints(kPoints, kDim, 5);
  std::vector<float> queries;
  for (size_t i = 0; i < 20; ++i) {
    queries.insert(queries.end(), pts[i * 7].vector.begin(),
                   pts[i * 7].vector.end());
  }
  const PcaWeighting kModes[] = {PcaWeighting::kAuto, PcaWeighting::kOff,
                                 PcaWeighting::kOn};
  QueryOptions o;
  o.k = 10;
  o.nprobe = 4;
  TempDir tmp;
  std::vector<std::string> codecs;
  std::vector<std::vector<std::vector<Neighbor>>> results;
  {
    auto db = OpenManual(tmp.path());
    ASSERT_TRUE(db);
    for (PcaWeighting mode : kModes) {
      CollectionConfig c;
      c.name = PcaWeightingName(mode);
      c.dim = kDim;
      c.metric = Metric::kInnerProduct;
      c.method = "pca";
      c.bits = 4;
      c.nlist = 8;
      c.pca_weighting = mode;
      ASSERT_TRUE(db->CreateCollection(c).ok());
      auto coll = db->GetCollection(c.name);
      ASSERT_TRUE(coll.ok()) << coll.status();
      auto before = (*coll)->Info();
      ASSERT_TRUE(before.ok()) << before.status();
      EXPECT_EQ(before->codec, "");  // untrained
      ASSERT_TRUE((*coll)->Upsert(pts, false).ok());
      ASSERT_TRUE((*coll)->Train().ok());
      auto info = (*coll)->Info();
      ASSERT_TRUE(info.ok()) << info.status();
      EXPECT_EQ(info->config.pca_weighting, mode);
      EXPECT_EQ(info->codec.rfind("pca 4-bit", 0), 0u) << info->codec;
      if (mode != PcaWeighting::kAuto) {
        EXPECT_EQ(Weighted(*info), mode == PcaWeighting::kOn) << info->codec;
      }
      codecs.push_back(info->codec);
      auto res = (*coll)->SearchBatch(queries, o);
      ASSERT_TRUE(res.ok()) << res.status();
      results.push_back(*res);
    }
  }
  auto db = OpenManual(tmp.path());
  ASSERT_TRUE(db);
  for (size_t m = 0; m < 3; ++m) {
    auto coll = db->GetCollection(PcaWeightingName(kModes[m]));
    ASSERT_TRUE(coll.ok()) << coll.status();
    auto info = (*coll)->Info();
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->config.pca_weighting, kModes[m]);
    EXPECT_EQ(info->codec, codecs[m]);
    auto res = (*coll)->SearchBatch(queries, o);
    ASSERT_TRUE(res.ok()) << res.status();
    for (size_t i = 0; i < res->size(); ++i) {
      ASSERT_EQ(Ids((*res)[i]), Ids(results[m][i]))
          << PcaWeightingName(kModes[m]) << " query " << i;
    }
  }
}

TEST(DbPcaWeighting, SettingIsValidated) {
  TempDir tmp;
  auto db = OpenManual(tmp.path());
  ASSERT_TRUE(db);
  CollectionConfig c;
  c.name = "a";
  c.dim = 8;
  c.method = "pca";
  c.pca_weighting = static_cast<PcaWeighting>(3);
  auto r = db->CreateCollection(c);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("pca_weighting"), std::string::npos)
      << r.status();
  // Other methods take only auto, the default.
  c.method = "renorm";
  c.pca_weighting = PcaWeighting::kOn;
  r = db->CreateCollection(c);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("pca_weighting on applies to method pca "
                                      "only (method renorm)"),
            std::string::npos)
      << r.status();
  c.pca_weighting = PcaWeighting::kAuto;
  EXPECT_TRUE(db->CreateCollection(c).ok());
  for (PcaWeighting w :
       {PcaWeighting::kAuto, PcaWeighting::kOff, PcaWeighting::kOn}) {
    EXPECT_EQ(ParsePcaWeighting(PcaWeightingName(w)).value(), w);
  }
  auto bad = ParsePcaWeighting("yes");
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("auto, off, on"), std::string::npos)
      << bad.status();
}

// Off leaves a pca record at the version its other settings need, as
// every record before the setting reads (their codes are unweighted); auto
// and on write version 5 (the weighting and a BM25 presence word), with or
// without BM25 settings after them. Other methods never write it and read
// as auto.
TEST(DbPcaWeighting, CollectionRecordVersions) {
  dbformat::CollectionRecord rec;
  rec.cid = 4;
  rec.config.name = "p";
  rec.config.dim = 16;
  rec.config.method = "pca";
  rec.config.pca_weighting = PcaWeighting::kOff;
  rec.trained_count = 50;
  const std::string v1 = dbformat::EncodeRecord(rec);
  ASSERT_GE(v1.size(), 8u);
  EXPECT_EQ(static_cast<uint8_t>(v1[4]), 1);  // version, little-endian
  auto back = dbformat::DecodeRecord(v1);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->config.pca_weighting, PcaWeighting::kOff);
  rec.config.bm25 = Bm25Config();
  const std::string v4 = dbformat::EncodeRecord(rec);
  EXPECT_EQ(static_cast<uint8_t>(v4[4]), 4);
  back = dbformat::DecodeRecord(v4);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->config.pca_weighting, PcaWeighting::kOff);
  EXPECT_TRUE(back->config.bm25.has_value());
  for (bool bm25 : {false, true}) {
    for (PcaWeighting w : {PcaWeighting::kAuto, PcaWeighting::kOn}) {
      rec.config.bm25.reset();
      if (bm25) rec.config.bm25 = Bm25Config();
      rec.config.pca_weighting = w;
      const std::string v5 = dbformat::EncodeRecord(rec);
      EXPECT_EQ(static_cast<uint8_t>(v5[4]), 5);
      // Beside version 1: refine, sharing, the weighting and the BM25 word;
      // beside version 4: the last two.
      EXPECT_EQ(v5.size(), bm25 ? v4.size() + 8 : v1.size() + 16);
      back = dbformat::DecodeRecord(v5);
      ASSERT_TRUE(back.ok()) << back.status();
      EXPECT_EQ(back->config.pca_weighting, w);
      EXPECT_EQ(back->config.bm25.has_value(), bm25);
      EXPECT_EQ(back->trained_count, 50u);
    }
  }
  // A weighting value past on is corrupt.
  rec.config.bm25.reset();
  rec.config.pca_weighting = static_cast<PcaWeighting>(3);
  const std::string bad = dbformat::EncodeRecord(rec);
  EXPECT_EQ(dbformat::DecodeRecord(bad).status().code(),
            absl::StatusCode::kDataLoss);
  rec.config.method = "renorm";
  rec.config.pca_weighting = PcaWeighting::kAuto;
  const std::string renorm = dbformat::EncodeRecord(rec);
  EXPECT_EQ(static_cast<uint8_t>(renorm[4]), 1);
  back = dbformat::DecodeRecord(renorm);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->config.pca_weighting, PcaWeighting::kAuto);
}

}  // namespace
}  // namespace tqdb
