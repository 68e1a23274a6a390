#include "quant/pq.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quant/coding.h"
#include "quant/kernels.h"
#include "quant/random.h"

namespace tqdb {
namespace {

using ::testing::HasSubstr;

std::vector<float> GaussianRows(size_t n, uint32_t dim, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> x(n * dim);
  // Correlated-ish data: a shared random direction plus noise, so that
  // sub-spaces are not all alike.
  std::vector<float> dir(dim);
  for (float& v : dir) v = static_cast<float>(rng.Gaussian());
  for (size_t i = 0; i < n; ++i) {
    const float a = static_cast<float>(rng.Gaussian());
    for (uint32_t j = 0; j < dim; ++j) {
      x[i * dim + j] = a * dir[j] + static_cast<float>(rng.Gaussian());
    }
  }
  return x;
}

std::unique_ptr<ProductQuantizer> TrainOrDie(const PqOptions& opts,
                                             const std::vector<float>& x) {
  absl::StatusOr<std::unique_ptr<ProductQuantizer>> pq =
      ProductQuantizer::Train(opts, x.data(), x.size() / opts.dim);
  EXPECT_TRUE(pq.ok()) << pq.status();
  return pq.ok() ? *std::move(pq) : nullptr;
}

double ReconstructionMse(const ProductQuantizer& pq,
                         const std::vector<float>& x) {
  const uint32_t dim = pq.dim();
  const size_t n = x.size() / dim;
  std::vector<uint8_t> codes(n * pq.code_bytes());
  EXPECT_TRUE(pq.EncodeBatch(x.data(), n, codes.data()).ok());
  std::vector<float> out(dim);
  double mse = 0;
  for (size_t i = 0; i < n; ++i) {
    pq.Decode(&codes[i * pq.code_bytes()], out.data());
    mse += kernels::L2Sqr(&x[i * dim], out.data(), dim);
  }
  return mse / n;
}

// The asymmetric tables reproduce the distance/inner product to the decoded
// vector, for queries that are not in the training set.
void CheckTables(const ProductQuantizer& pq, uint64_t seed) {
  const uint32_t dim = pq.dim();
  const std::vector<float> base = GaussianRows(50, dim, seed);
  const std::vector<float> queries = GaussianRows(10, dim, seed + 1);
  std::vector<uint8_t> code(pq.code_bytes());
  std::vector<float> dec(dim), l2(pq.lut_size()), ip(pq.lut_size());
  for (size_t qi = 0; qi < 10; ++qi) {
    const float* q = &queries[qi * dim];
    pq.ComputeL2Table(q, l2.data());
    pq.ComputeIpTable(q, ip.data());
    for (size_t i = 0; i < 50; ++i) {
      ASSERT_TRUE(
          pq.Encode(absl::MakeConstSpan(&base[i * dim], dim), code.data())
              .ok());
      pq.Decode(code.data(), dec.data());
      double el2 = 0, eip = 0;
      for (uint32_t j = 0; j < dim; ++j) {
        el2 += (double{q[j]} - dec[j]) * (double{q[j]} - dec[j]);
        eip += double{q[j]} * dec[j];
      }
      EXPECT_NEAR(pq.LookupSum(l2.data(), code.data()), el2, 1e-4 * el2);
      EXPECT_NEAR(pq.LookupSum(ip.data(), code.data()), eip,
                  1e-4 * std::max(1.0, std::fabs(eip)));
    }
  }
}

TEST(PqTest, TablesMatchDecodedVectors) {
  const std::vector<float> x = GaussianRows(2000, 32, 1);
  for (uint32_t nbits : {4u, 8u}) {
    for (uint32_t m : {1u, 5u, 8u, 32u}) {
      PqOptions opts;
      opts.dim = 32;
      opts.m = m;
      opts.nbits = nbits;
      opts.train_iters = 8;
      std::unique_ptr<ProductQuantizer> pq = TrainOrDie(opts, x);
      ASSERT_NE(pq, nullptr);
      SCOPED_TRACE(testing::Message() << "m " << m << " nbits " << nbits);
      CheckTables(*pq, 100 + m);
    }
  }
}

TEST(PqTest, MseDecreasesWithM) {
  const std::vector<float> x = GaussianRows(3000, 32, 2);
  for (uint32_t nbits : {4u, 8u}) {
    double prev = std::numeric_limits<double>::infinity();
    for (uint32_t m : {1u, 2u, 4u, 8u, 16u, 32u}) {
      PqOptions opts;
      opts.dim = 32;
      opts.m = m;
      opts.nbits = nbits;
      opts.train_iters = 10;
      std::unique_ptr<ProductQuantizer> pq = TrainOrDie(opts, x);
      ASSERT_NE(pq, nullptr);
      const double mse = ReconstructionMse(*pq, x);
      EXPECT_LT(mse, prev) << "m " << m << " nbits " << nbits;
      prev = mse;
    }
    // Sanity: 32 scalar quantizers of a variance ~2 Gaussian; Lloyd-Max
    // theory gives 32 * 2 * 0.0095 = 0.61 at 16 levels.
    EXPECT_LT(prev, nbits == 8 ? 0.01 : 1.0);
  }
}

TEST(PqTest, CodeLayoutNibblesAndBytes) {
  const std::vector<float> x = GaussianRows(1000, 14, 3);
  for (uint32_t nbits : {4u, 8u}) {
    PqOptions opts;
    opts.dim = 14;
    opts.m = 7;  // odd: the last nibble of a 4-bit code is padding
    opts.nbits = nbits;
    opts.train_iters = 5;
    std::unique_ptr<ProductQuantizer> pq = TrainOrDie(opts, x);
    ASSERT_NE(pq, nullptr);
    EXPECT_EQ(pq->ksub(), 1u << nbits);
    EXPECT_EQ(pq->code_bytes(), nbits == 4 ? 4u : 7u);
    for (size_t i = 0; i < 20; ++i) {
      const float* v = &x[i * 14];
      std::vector<uint8_t> code(pq->code_bytes(), 0xAB);
      ASSERT_TRUE(pq->Encode(absl::MakeConstSpan(v, 14), code.data()).ok());
      for (uint32_t j = 0; j < 7; ++j) {
        // Brute-force nearest centroid of sub-space j.
        const uint32_t off = pq->sub_dim_offset(j), ds = pq->sub_dim(j);
        EXPECT_EQ(off, 2 * j);
        EXPECT_EQ(ds, 2u);
        float best = 1e30f;
        uint32_t arg = 0;
        for (uint32_t c = 0; c < pq->ksub(); ++c) {
          const float d =
              kernels::L2Sqr(v + off, pq->centroids(j) + c * ds, ds);
          if (d < best) best = d, arg = c;
        }
        const uint32_t got =
            nbits == 8 ? code[j] : (code[j / 2] >> (4 * (j % 2))) & 15;
        EXPECT_EQ(got, arg) << "row " << i << " sub-space " << j;
      }
      if (nbits == 4) {
        EXPECT_EQ(code[3] >> 4, 0);
      }
      // Decoding then re-encoding is the identity on codes.
      std::vector<float> dec(14);
      pq->Decode(code.data(), dec.data());
      std::vector<uint8_t> again(pq->code_bytes());
      ASSERT_TRUE(pq->Encode(dec, again.data()).ok());
      EXPECT_EQ(again, code);
    }
  }
}

TEST(PqTest, UnevenSplit) {
  const std::vector<float> x = GaussianRows(1500, 100, 4);
  PqOptions opts;
  opts.dim = 100;
  opts.m = 33;
  opts.nbits = 8;
  opts.train_iters = 6;
  std::unique_ptr<ProductQuantizer> pq = TrainOrDie(opts, x);
  ASSERT_NE(pq, nullptr);
  // 100 = 1 * 4 + 32 * 3.
  EXPECT_EQ(pq->sub_dim(0), 4u);
  EXPECT_EQ(pq->sub_dim_offset(0), 0u);
  for (uint32_t j = 1; j < 33; ++j) {
    EXPECT_EQ(pq->sub_dim(j), 3u);
    EXPECT_EQ(pq->sub_dim_offset(j), 4 + 3 * (j - 1));
  }
  EXPECT_EQ(pq->code_bytes(), 33u);
  CheckTables(*pq, 200);
  // 33 sub-spaces of <= 4 dims with 256 centroids each: a small error
  // relative to the data energy (~2 per coordinate).
  EXPECT_LT(ReconstructionMse(*pq, x), 0.25 * 100 * 2);

  opts.m = 3;  // 34 + 33 + 33
  opts.nbits = 4;
  pq = TrainOrDie(opts, x);
  ASSERT_NE(pq, nullptr);
  EXPECT_EQ(pq->sub_dim(0), 34u);
  EXPECT_EQ(pq->sub_dim(1), 33u);
  EXPECT_EQ(pq->sub_dim(2), 33u);
  EXPECT_EQ(pq->sub_dim_offset(2), 67u);
  EXPECT_EQ(pq->code_bytes(), 2u);
  CheckTables(*pq, 300);
}

TEST(PqTest, EncodeBatchMatchesEncode) {
  const std::vector<float> x = GaussianRows(1300, 24, 5);
  PqOptions opts;
  opts.dim = 24;
  opts.m = 6;
  opts.nbits = 4;
  opts.train_iters = 5;
  opts.num_threads = 2;
  std::unique_ptr<ProductQuantizer> pq = TrainOrDie(opts, x);
  ASSERT_NE(pq, nullptr);
  const size_t cb = pq->code_bytes();
  std::vector<uint8_t> batch(1300 * cb, 0xFF), one(cb);
  ASSERT_TRUE(pq->EncodeBatch(x.data(), 1300, batch.data()).ok());
  for (size_t i = 0; i < 1300; ++i) {
    ASSERT_TRUE(
        pq->Encode(absl::MakeConstSpan(&x[i * 24], 24), one.data()).ok());
    ASSERT_EQ(0, std::memcmp(one.data(), &batch[i * cb], cb)) << "row " << i;
  }
}

TEST(PqTest, DeterministicForSeedAndThreads) {
  const std::vector<float> x = GaussianRows(3000, 16, 6);
  PqOptions opts;
  opts.dim = 16;
  opts.m = 4;
  opts.nbits = 8;
  opts.train_iters = 5;
  opts.max_train_points = 2000;  // exercise sampling
  std::unique_ptr<ProductQuantizer> a = TrainOrDie(opts, x);
  std::unique_ptr<ProductQuantizer> b = TrainOrDie(opts, x);
  opts.num_threads = 3;
  std::unique_ptr<ProductQuantizer> c = TrainOrDie(opts, x);
  opts.num_threads = 1;
  opts.seed = 4321;
  std::unique_ptr<ProductQuantizer> d = TrainOrDie(opts, x);
  ASSERT_TRUE(a && b && c && d);
  EXPECT_EQ(a->Serialize(), b->Serialize());
  EXPECT_EQ(a->Serialize(), c->Serialize());
  EXPECT_NE(a->Serialize(), d->Serialize());
}

TEST(PqTest, SerializeRoundTrip) {
  const std::vector<float> x = GaussianRows(800, 20, 7);
  for (uint32_t nbits : {4u, 8u}) {
    PqOptions opts;
    opts.dim = 20;
    opts.m = 6;
    opts.nbits = nbits;
    opts.train_iters = 4;
    opts.seed = 77;
    opts.max_train_points = 700;
    std::unique_ptr<ProductQuantizer> pq = TrainOrDie(opts, x);
    ASSERT_NE(pq, nullptr);
    const std::string bytes = pq->Serialize();
    EXPECT_EQ(bytes.size(), 40u + (1u << nbits) * 20 * 4 + 4);
    absl::StatusOr<std::unique_ptr<ProductQuantizer>> back =
        ProductQuantizer::Deserialize(bytes);
    ASSERT_TRUE(back.ok()) << back.status();
    const ProductQuantizer& q = **back;
    EXPECT_EQ(q.dim(), 20u);
    EXPECT_EQ(q.m(), 6u);
    EXPECT_EQ(q.nbits(), nbits);
    EXPECT_EQ(q.options().train_iters, 4u);
    EXPECT_EQ(q.options().seed, 77u);
    EXPECT_EQ(q.options().max_train_points, 700u);
    EXPECT_EQ(q.Serialize(), bytes);
    const size_t cb = pq->code_bytes();
    std::vector<uint8_t> c1(800 * cb), c2(800 * cb);
    ASSERT_TRUE(pq->EncodeBatch(x.data(), 800, c1.data()).ok());
    ASSERT_TRUE(q.EncodeBatch(x.data(), 800, c2.data()).ok());
    EXPECT_EQ(c1, c2);
    std::vector<float> l1(pq->lut_size()), l2(q.lut_size());
    pq->ComputeL2Table(x.data(), l1.data());
    q.ComputeL2Table(x.data(), l2.data());
    EXPECT_EQ(l1, l2);
  }
}

TEST(PqTest, CorruptionIsDataLoss) {
  const std::vector<float> x = GaussianRows(300, 8, 8);
  PqOptions opts;
  opts.dim = 8;
  opts.m = 2;
  opts.nbits = 4;
  opts.train_iters = 2;
  std::unique_ptr<ProductQuantizer> pq = TrainOrDie(opts, x);
  ASSERT_NE(pq, nullptr);
  const std::string good = pq->Serialize();
  // Every single flipped byte is detected.
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x5A);
    absl::StatusOr<std::unique_ptr<ProductQuantizer>> r =
        ProductQuantizer::Deserialize(bad);
    ASSERT_EQ(r.status().code(), absl::StatusCode::kDataLoss)
        << "byte " << i << ": " << r.status();
  }
  std::string bad = good;
  bad[100] ^= 1;
  EXPECT_THAT(ProductQuantizer::Deserialize(bad).status().message(),
              HasSubstr("checksum mismatch"));
  bad = good;
  bad[0] ^= 1;
  EXPECT_THAT(ProductQuantizer::Deserialize(bad).status().message(),
              HasSubstr("bad magic"));
  // Truncation, at any length.
  for (size_t len : {size_t{0}, size_t{3}, size_t{20}, size_t{43}, size_t{44},
                     good.size() / 2, good.size() - 1}) {
    absl::StatusOr<std::unique_ptr<ProductQuantizer>> r =
        ProductQuantizer::Deserialize(absl::string_view(good).substr(0, len));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << len;
    EXPECT_THAT(r.status().message(), HasSubstr("truncated")) << len;
  }
  EXPECT_EQ(ProductQuantizer::Deserialize(good + "x").status().code(),
            absl::StatusCode::kDataLoss);
  // A well-formed blob of a future version is FailedPrecondition.
  std::string future = good.substr(0, good.size() - 4);
  future[4] = 2;
  PutFixed32(&future, Crc32c(future.data(), future.size()));
  absl::Status s = ProductQuantizer::Deserialize(future).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("version 2"));
  // A checksummed but inconsistent header (m > dim) is DataLoss.
  std::string inconsistent = good.substr(0, good.size() - 4);
  inconsistent[12] = 9;  // m = 9 > dim = 8
  PutFixed32(&inconsistent, Crc32c(inconsistent.data(), inconsistent.size()));
  s = ProductQuantizer::Deserialize(inconsistent).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(s.message(), HasSubstr("m=9"));
}

TEST(PqTest, Errors) {
  const std::vector<float> x = GaussianRows(300, 16, 9);
  PqOptions opts;
  opts.dim = 16;
  opts.m = 4;
  auto train_status = [&](const PqOptions& o, const float* data, size_t n) {
    return ProductQuantizer::Train(o, data, n).status();
  };
  PqOptions o = opts;
  o.dim = 0;
  EXPECT_EQ(train_status(o, x.data(), 300).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(train_status(o, x.data(), 300).message(), HasSubstr("dim"));
  o = opts;
  o.m = 0;
  EXPECT_THAT(train_status(o, x.data(), 300).message(),
              HasSubstr("m must be in [1, dim=16], got 0"));
  o.m = 17;
  EXPECT_EQ(train_status(o, x.data(), 300).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(train_status(o, x.data(), 300).message(), HasSubstr("got 17"));
  o = opts;
  o.nbits = 5;
  EXPECT_EQ(train_status(o, x.data(), 300).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(train_status(o, x.data(), 300).message(),
              HasSubstr("nbits must be 4 or 8, got 5"));
  o = opts;
  EXPECT_THAT(train_status(o, x.data(), 100).message(),
              HasSubstr("need at least 2^nbits=256 training points, got 100"));
  o.nbits = 4;  // 16 centroids: 100 points are enough
  EXPECT_TRUE(train_status(o, x.data(), 100).ok());
  o.max_train_points = 10;
  EXPECT_THAT(train_status(o, x.data(), 100).message(),
              HasSubstr("max_train_points=10"));
  o = opts;
  EXPECT_EQ(train_status(o, nullptr, 300).code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<float> bad = x;
  bad[3 * 16 + 5] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THAT(train_status(o, bad.data(), 300).message(),
              HasSubstr("row 3 coordinate 5 is NaN"));

  std::unique_ptr<ProductQuantizer> pq = TrainOrDie(opts, x);
  ASSERT_NE(pq, nullptr);
  std::vector<uint8_t> code(pq->code_bytes(), 0x11);
  absl::Status s = pq->Encode(absl::MakeConstSpan(x.data(), 15), code.data());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("dim=16 floats, got 15"));
  std::vector<float> v(x.begin(), x.begin() + 16);
  v[9] = std::numeric_limits<float>::infinity();
  s = pq->Encode(v, code.data());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("coordinate 9 is +inf"));
  EXPECT_EQ(code, std::vector<uint8_t>(pq->code_bytes(), 0x11));
  std::vector<uint8_t> codes(300 * pq->code_bytes());
  s = pq->EncodeBatch(bad.data(), 300, codes.data());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("row 3 coordinate 5 is NaN"));
  EXPECT_TRUE(pq->EncodeBatch(nullptr, 0, nullptr).ok());
}

// Real data: USE-512 sentence embeddings of Debian package descriptions.
bool ReadVecs(const std::string& path, size_t elem_size, std::vector<char>* out,
              uint32_t* dim, size_t* rows) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::vector<char> raw((std::istreambuf_iterator<char>(f)),
                        std::istreambuf_iterator<char>());
  if (raw.size() < 4) return false;
  const uint32_t d =
      DecodeFixed32(reinterpret_cast<const uint8_t*>(raw.data()));
  const size_t row_bytes = 4 + size_t{d} * elem_size;
  if (d == 0 || raw.size() % row_bytes != 0) return false;
  *dim = d;
  *rows = raw.size() / row_bytes;
  out->resize(*rows * d * elem_size);
  for (size_t i = 0; i < *rows; ++i) {
    const char* row = raw.data() + i * row_bytes;
    if (DecodeFixed32(reinterpret_cast<const uint8_t*>(row)) != d) return false;
    std::memcpy(out->data() + i * d * elem_size, row + 4, d * elem_size);
  }
  return true;
}

bool ReadFvecs(const std::string& path, std::vector<float>* out, uint32_t* dim,
               size_t* rows) {
  std::vector<char> raw;
  if (!ReadVecs(path, 4, &raw, dim, rows)) return false;
  out->resize(raw.size() / 4);
  for (size_t i = 0; i < out->size(); ++i) {
    (*out)[i] = DecodeFloat(reinterpret_cast<const uint8_t*>(&raw[i * 4]));
  }
  return true;
}

bool ReadIvecs(const std::string& path, std::vector<int32_t>* out,
               uint32_t* dim, size_t* rows) {
  std::vector<char> raw;
  if (!ReadVecs(path, 4, &raw, dim, rows)) return false;
  out->resize(raw.size() / 4);
  for (size_t i = 0; i < out->size(); ++i) {
    (*out)[i] = static_cast<int32_t>(
        DecodeFixed32(reinterpret_cast<const uint8_t*>(&raw[i * 4])));
  }
  return true;
}

TEST(PqTest, Use512RecallAt1) {
  const std::string dir =
      std::string(TQDB_SHARED_DATA) + "/use512-debian-pkgdesc/";
  std::vector<float> base, queries;
  std::vector<int32_t> gt;
  uint32_t d_base = 0, d_query = 0, k_gt = 0;
  size_t n_base = 0, n_query = 0, n_gt = 0;
  if (!ReadFvecs(dir + "debdesc_use512_base_20k.fvecs", &base, &d_base,
                 &n_base) ||
      !ReadFvecs(dir + "debdesc_use512_query_1k.fvecs", &queries, &d_query,
                 &n_query) ||
      !ReadIvecs(dir + "debdesc_use512_query_1k.gt_ip_top100.ivecs", &gt, &k_gt,
                 &n_gt)) {
    GTEST_SKIP() << "use512 data not found under " << dir;
  }
  ASSERT_EQ(d_base, 512u);
  ASSERT_EQ(d_query, 512u);
  ASSERT_EQ(n_query, n_gt);

  PqOptions opts;
  opts.dim = 512;
  opts.m = 64;
  opts.nbits = 8;
  opts.num_threads = 2;
  absl::StatusOr<std::unique_ptr<ProductQuantizer>> pq =
      ProductQuantizer::Train(opts, base.data(), n_base);
  ASSERT_TRUE(pq.ok()) << pq.status();
  const size_t cb = (*pq)->code_bytes();
  ASSERT_EQ(cb, 64u);
  std::vector<uint8_t> codes(n_base * cb);
  ASSERT_TRUE((*pq)->EncodeBatch(base.data(), n_base, codes.data()).ok());

  std::vector<float> lut((*pq)->lut_size());
  size_t hits = 0;
  for (size_t qi = 0; qi < n_query; ++qi) {
    (*pq)->ComputeIpTable(&queries[qi * 512], lut.data());
    float best = -std::numeric_limits<float>::infinity();
    size_t arg = 0;
    for (size_t i = 0; i < n_base; ++i) {
      const float s = (*pq)->LookupSum(lut.data(), &codes[i * cb]);
      if (s > best) best = s, arg = i;
    }
    hits += static_cast<int32_t>(arg) == gt[qi * k_gt];
  }
  const double recall = static_cast<double>(hits) / n_query;
  std::printf("use512 PQ m=64 nbits=8 (64 B/vector): recall@1@1 = %.3f\n",
              recall);
  RecordProperty("recall_at_1_at_1", std::to_string(recall));
  // Measured 0.561 (AVX-512; 0.557 with AVX2/SSE4 sums; 0.559..0.574 over
  // other seeds). FAISS IndexPQ(512, 64, 8) gets 0.574 on the same data.
  EXPECT_GE(recall, 0.53);
}

}  // namespace
}  // namespace tqdb
