// rpc/convert.h: the server and the CLI's client convert through the same
// functions, so a value survives the round trip both ways.
#include "rpc/convert.h"

#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tqdb {
namespace {

namespace pb = ::tqdb::v1;

TEST(ConvertTest, CollectionInfoRoundTrip) {
  CollectionInfo in;
  in.config.name = "docs";
  in.config.dim = 96;
  in.config.metric = Metric::kL2;
  in.config.method = "pca";
  in.config.bits = 3;
  in.config.seed = 77;
  in.config.nlist = 12;
  in.config.train_threshold = 468;
  in.config.store_vectors = false;
  in.count = 1000;
  in.trained = true;
  in.training = true;
  in.generation = 2;
  in.nlist = 12;
  in.trained_count = 900;
  in.lists = ListStats{12,
                       990,
                       10,
                       0,
                       110,
                       1.25,
                       {0, 60, 61, 110, 100, 90, 80, 70, 65, 75, 85, 94}};
  in.imbalance = 1.25;
  in.code_bytes = 40;
  in.disk_bytes_per_vector = 123.5;
  in.retrain_recommended = true;
  in.retrain_reason = "grew";
  in.last_training_error = "none";
  in.disk_bytes = 123500;
  in.memory_bytes = 300000;
  in.memory_index_bytes = 290000;
  in.memory_reserved_bytes = 10000;
  in.memory_total_bytes = 500000;
  in.memory_limit_bytes = 1 << 20;
  pb::CollectionInfo p;
  ToProto(in, &p);
  // 110 / 16 -> buckets of 7: (0], (0, 7], ..., (105, 112]; every list
  // counted once.
  ASSERT_EQ(p.lists().size_histogram_size(), 17);
  EXPECT_EQ(p.lists().size_histogram(0).le(), 0u);
  EXPECT_EQ(p.lists().size_histogram(0).lists(), 1u);
  EXPECT_EQ(p.lists().size_histogram(16).le(), 112u);
  EXPECT_EQ(p.lists().size_histogram(16).lists(), 1u);  // 110
  EXPECT_EQ(p.lists().size_histogram(9).le(), 63u);
  EXPECT_EQ(p.lists().size_histogram(9).lists(), 2u);  // 60, 61
  uint64_t lists = 0;
  for (const auto& b : p.lists().size_histogram()) lists += b.lists();
  EXPECT_EQ(lists, 12u);
  const CollectionInfo out = FromProto(p);
  EXPECT_EQ(out.config.name, "docs");
  EXPECT_EQ(out.config.dim, 96u);
  EXPECT_EQ(out.config.metric, Metric::kL2);
  EXPECT_EQ(out.config.method, "pca");
  EXPECT_EQ(out.config.bits, 3u);
  EXPECT_EQ(out.config.seed, 77u);
  EXPECT_EQ(out.config.nlist, 12u);
  EXPECT_EQ(out.config.train_threshold, 468u);
  EXPECT_FALSE(out.config.store_vectors);
  EXPECT_EQ(out.count, 1000u);
  EXPECT_TRUE(out.trained);
  EXPECT_TRUE(out.training);
  EXPECT_EQ(out.generation, 2u);
  EXPECT_EQ(out.nlist, 12u);
  EXPECT_EQ(out.trained_count, 900u);
  EXPECT_EQ(out.lists.live, 990u);
  EXPECT_EQ(out.lists.tombstones, 10u);
  EXPECT_EQ(out.lists.min_size, 0u);
  EXPECT_EQ(out.lists.max_size, 110u);
  EXPECT_EQ(out.imbalance, 1.25);
  EXPECT_EQ(out.code_bytes, 40u);
  EXPECT_EQ(out.disk_bytes_per_vector, 123.5);
  EXPECT_TRUE(out.retrain_recommended);
  EXPECT_EQ(out.retrain_reason, "grew");
  EXPECT_EQ(out.last_training_error, "none");
  EXPECT_EQ(out.disk_bytes, 123500u);
  EXPECT_EQ(out.memory_bytes, 300000u);
  EXPECT_EQ(out.memory_index_bytes, 290000u);
  EXPECT_EQ(out.memory_reserved_bytes, 10000u);
  EXPECT_EQ(out.memory_total_bytes, 500000u);
  EXPECT_EQ(out.memory_limit_bytes, size_t{1} << 20);
}

TEST(ConvertTest, CollectionConfigRoundTripAndDefaults) {
  CollectionConfig in;
  in.name = "c";
  in.dim = 8;
  in.metric = Metric::kInnerProduct;
  in.method = "mse";
  in.bits = 2;
  in.store_vectors = false;
  pb::CreateCollectionRequest req;
  ASSERT_TRUE(ToProto(in, &req).ok());
  auto out = FromProto(req);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->name, "c");
  EXPECT_EQ(out->metric, Metric::kInnerProduct);
  EXPECT_EQ(out->method, "mse");
  EXPECT_EQ(out->bits, 2u);
  EXPECT_EQ(out->seed, in.seed);
  EXPECT_FALSE(out->store_vectors);
  // Zero values and absent fields are the database's defaults.
  pb::CreateCollectionRequest bare;
  bare.set_name("d");
  out = FromProto(bare);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->metric, Metric::kCosine);
  EXPECT_EQ(out->method, "renorm");
  EXPECT_EQ(out->bits, CollectionConfig().bits);
  EXPECT_EQ(out->seed, CollectionConfig().seed);
  EXPECT_TRUE(out->store_vectors);
  bare.set_metric(static_cast<pb::Metric>(42));
  EXPECT_EQ(FromProto(bare).status().code(),
            absl::StatusCode::kInvalidArgument);
  in.method = "lvq";
  EXPECT_EQ(ToProto(in, &req).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConvertTest, QueryOptionsRoundTrip) {
  QueryOptions in;
  in.k = 7;
  in.nprobe = 3;
  in.exact = true;
  in.rescore = true;
  in.oversampling = 2.5f;
  in.probe_sigmas = 3.0f;
  in.examples = {{4, 5}, {6}, RecommendStrategy::kBestScore};
  pb::SearchRequest req;
  ToProto(in, &req);
  const QueryOptions out = FromProto(req);
  EXPECT_EQ(out.examples.positive, in.examples.positive);
  EXPECT_EQ(out.examples.negative, in.examples.negative);
  EXPECT_EQ(out.examples.strategy, RecommendStrategy::kBestScore);
  in.examples.strategy = RecommendStrategy::kSumScores;
  ToProto(in, &req);
  EXPECT_EQ(req.strategy(), pb::RECOMMEND_STRATEGY_SUM_SCORES);
  EXPECT_EQ(FromProto(req).examples.strategy, RecommendStrategy::kSumScores);
  EXPECT_EQ(out.k, 7u);
  EXPECT_EQ(out.nprobe, 3u);
  EXPECT_EQ(out.info, nullptr);  // the server's to set
  EXPECT_TRUE(out.exact);
  EXPECT_TRUE(out.rescore);
  EXPECT_EQ(out.oversampling, 2.5f);
  EXPECT_EQ(out.probe_sigmas, 3.0f);
  pb::SearchRequest bare;
  bare.set_limit(1);
  const QueryOptions defaults = FromProto(bare);
  EXPECT_EQ(defaults.nprobe, QueryOptions().nprobe);
  EXPECT_EQ(defaults.oversampling, QueryOptions().oversampling);
  EXPECT_EQ(defaults.probe_sigmas, 0.0f);
  EXPECT_EQ(defaults.examples.strategy, RecommendStrategy::kAverageVector);
}

TEST(ConvertTest, PointsAndRecords) {
  pb::UpsertRequest req;
  ToProto(Point{5, {1.0f, 2.0f}, "{}"}, req.add_points());
  const std::vector<Point> pts = FromProto(req.points());
  ASSERT_EQ(pts.size(), 1u);
  EXPECT_EQ(pts[0].id, 5u);
  EXPECT_EQ(pts[0].vector, (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(pts[0].payload, "{}");
  pb::ScoredPoint p;
  ToProto(Neighbor{9, 0.5f}, &p);
  ToProto(Record{9, false, {}, "x"}, &p);
  EXPECT_EQ(p.id(), 9u);
  EXPECT_EQ(p.score(), 0.5f);
  EXPECT_EQ(p.vector_size(), 0);
  EXPECT_EQ(p.payload(), "x");
}

TEST(ConvertTest, StatusKeepsCodeAndMessage) {
  const absl::Status s = absl::DataLossError("vectors: point 3");
  const absl::Status back = FromGrpc(ToGrpc(s));
  EXPECT_EQ(back, s);
  EXPECT_TRUE(FromGrpc(ToGrpc(absl::OkStatus())).ok());
}

}  // namespace
}  // namespace tqdb
