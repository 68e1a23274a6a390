#include "quant/pq.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "quant/bitpack.h"
#include "quant/coding.h"
#include "quant/finite.h"
#include "quant/parallel.h"
#include "quant/random.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace {

using quant_internal::NonFiniteName;
using quant_internal::ParallelRanges;

constexpr uint32_t kPqMagic = 0x31515054;  // "TPQ1"
constexpr uint32_t kPqVersion = 1;
// magic, version, dim, m, nbits, train_iters, seed, max_train_points.
constexpr size_t kPqHeaderBytes = 6 * 4 + 2 * 8;
// Rows encoded per block (sub-codes of a block stay in L1).
constexpr size_t kEncodeBlock = 256;
// Rows per EncodeBatch thread, at least.
constexpr size_t kMinRowsPerThread = 512;

// InvalidArgument naming the first non-finite value of the n x dim rows.
absl::Status CheckRowsFinite(const float* x, size_t n, uint32_t dim,
                             absl::string_view what) {
  for (size_t i = 0; i < n; ++i) {
    const float* row = x + i * dim;
    if (const std::ptrdiff_t j = FirstNonFinite(row, dim); j >= 0) {
      return absl::InvalidArgumentError(absl::StrCat("PQ: ", what, " row ", i,
                                                     " coordinate ", j, " is ",
                                                     NonFiniteName(row[j])));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateOptions(const PqOptions& o) {
  if (o.dim == 0) {
    return absl::InvalidArgumentError("PQ: dim must be >= 1, got 0");
  }
  if (o.m == 0 || o.m > o.dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("PQ: m must be in [1, dim=", o.dim, "], got ", o.m));
  }
  if (o.nbits != 4 && o.nbits != 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("PQ: nbits must be 4 or 8, got ", o.nbits));
  }
  return absl::OkStatus();
}

}  // namespace

void ProductQuantizer::InitLayout() {
  const uint32_t d = opts_.dim, m = opts_.m;
  ksub_ = 1u << opts_.nbits;
  code_bytes_ = (size_t{m} * opts_.nbits + 7) / 8;
  offsets_.assign(m + 1, 0);
  const uint32_t base = d / m, extra = d % m;
  for (uint32_t j = 0; j < m; ++j) {
    offsets_[j + 1] = offsets_[j] + base + (j < extra ? 1 : 0);
  }
}

void ProductQuantizer::InitTables() {
  transposed_.assign(centroids_.size(), 0.0f);
  assigners_.clear();
  assigners_.reserve(opts_.m);
  for (uint32_t j = 0; j < opts_.m; ++j) {
    const uint32_t ds = sub_dim(j);
    const float* c = centroids(j);
    float* t = transposed_.data() + size_t{ksub_} * offsets_[j];
    for (uint32_t k = 0; k < ksub_; ++k) {
      for (uint32_t d = 0; d < ds; ++d) {
        t[size_t{d} * ksub_ + k] = c[k * ds + d];
      }
    }
    assigners_.emplace_back(c, ksub_, ds);
  }
}

absl::StatusOr<std::unique_ptr<ProductQuantizer>> ProductQuantizer::Train(
    const PqOptions& opts, const float* x, size_t n) {
  TQ_RETURN_IF_ERROR(ValidateOptions(opts));
  const uint32_t ksub = 1u << opts.nbits;
  if (opts.max_train_points < ksub) {
    return absl::InvalidArgumentError(
        absl::StrCat("PQ: max_train_points=", opts.max_train_points,
                     " is below 2^nbits=", ksub));
  }
  if (n < ksub) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PQ: need at least 2^nbits=", ksub, " training points, got ", n));
  }
  if (x == nullptr) return absl::InvalidArgumentError("PQ: x is null");
  TQ_RETURN_IF_ERROR(CheckRowsFinite(x, n, opts.dim, "training"));

  std::unique_ptr<ProductQuantizer> pq(new ProductQuantizer());
  pq->opts_ = opts;
  pq->InitLayout();
  const uint32_t dim = opts.dim, m = opts.m;

  // Training sample (sorted row indices), then one seed per sub-space.
  Rng rng(opts.seed);
  const size_t nt = std::min(n, opts.max_train_points);
  std::vector<size_t> rows(n);
  for (size_t i = 0; i < n; ++i) rows[i] = i;
  if (nt < n) {
    for (size_t i = 0; i < nt; ++i) {
      std::swap(rows[i], rows[i + static_cast<size_t>(rng.Uniform(n - i))]);
    }
    rows.resize(nt);
    std::sort(rows.begin(), rows.end());
  }
  std::vector<uint64_t> seeds(m);
  for (uint64_t& s : seeds) s = rng.Next();

  pq->centroids_.assign(size_t{ksub} * dim, 0.0f);
  std::vector<absl::Status> status(m);
  const uint32_t threads = std::min(std::max<uint32_t>(1, opts.num_threads), m);
  auto train_sub = [&](uint32_t t) {
    std::vector<float> sub;
    for (uint32_t j = t; j < m; j += threads) {
      const uint32_t off = pq->offsets_[j], ds = pq->sub_dim(j);
      sub.resize(nt * ds);
      for (size_t i = 0; i < nt; ++i) {
        std::memcpy(&sub[i * ds], x + rows[i] * dim + off, sizeof(float) * ds);
      }
      KMeansOptions ko;
      ko.k = ksub;
      ko.max_iter = opts.train_iters;
      ko.seed = seeds[j];
      ko.max_points_per_centroid = 0;  // the sample is already drawn
      ko.num_threads = 1;
      absl::StatusOr<KMeansResult> r = TrainKMeans(sub.data(), nt, ds, ko);
      if (!r.ok()) {
        status[j] = r.status();
        continue;
      }
      std::memcpy(pq->centroids_.data() + size_t{ksub} * off,
                  r->centroids.data(), sizeof(float) * ksub * ds);
    }
  };
  std::vector<std::thread> pool;
  for (uint32_t t = 1; t < threads; ++t) pool.emplace_back(train_sub, t);
  train_sub(0);
  for (std::thread& th : pool) th.join();
  for (const absl::Status& s : status) TQ_RETURN_IF_ERROR(s);

  pq->InitTables();
  return pq;
}

void ProductQuantizer::EncodeRows(const float* x, size_t n,
                                  uint8_t* codes) const {
  const uint32_t m = opts_.m, dim = opts_.dim;
  const int bits = static_cast<int>(opts_.nbits);
  uint32_t assign[kEncodeBlock];
  // Block rows x m sub-codes.
  std::vector<uint8_t> sub(std::min(n, kEncodeBlock) * m);
  std::memset(codes, 0, n * code_bytes_);
  for (size_t i0 = 0; i0 < n; i0 += kEncodeBlock) {
    const size_t nb = std::min(kEncodeBlock, n - i0);
    for (uint32_t j = 0; j < m; ++j) {
      assigners_[j].Assign(x + i0 * dim + offsets_[j], nb, dim, assign);
      for (size_t i = 0; i < nb; ++i) {
        sub[i * m + j] = static_cast<uint8_t>(assign[i]);
      }
    }
    for (size_t i = 0; i < nb; ++i) {
      PackBits(&sub[i * m], m, bits, codes + (i0 + i) * code_bytes_, 0);
    }
  }
}

absl::Status ProductQuantizer::Encode(absl::Span<const float> x,
                                      uint8_t* code) const {
  if (x.size() != opts_.dim) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PQ: Encode expects dim=", opts_.dim, " floats, got ", x.size()));
  }
  if (const std::ptrdiff_t j = FirstNonFinite(x.data(), x.size()); j >= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("PQ: Encode coordinate ", j, " is ", NonFiniteName(x[j])));
  }
  EncodeRows(x.data(), 1, code);
  return absl::OkStatus();
}

absl::Status ProductQuantizer::EncodeBatch(const float* x, size_t n,
                                           uint8_t* codes) const {
  if (n == 0) return absl::OkStatus();
  if (x == nullptr) return absl::InvalidArgumentError("PQ: x is null");
  TQ_RETURN_IF_ERROR(CheckRowsFinite(x, n, opts_.dim, "EncodeBatch"));
  ParallelRanges(
      n, opts_.num_threads, kMinRowsPerThread, [&](size_t b, size_t e) {
        EncodeRows(x + b * opts_.dim, e - b, codes + b * code_bytes_);
      });
  return absl::OkStatus();
}

void ProductQuantizer::Decode(const uint8_t* code, float* out) const {
  constexpr uint32_t kChunk = 64;  // even, so nibble chunks start on a byte
  uint8_t sub[kChunk];
  for (uint32_t j0 = 0; j0 < opts_.m; j0 += kChunk) {
    const uint32_t cnt = std::min(kChunk, opts_.m - j0);
    UnpackBits(code, cnt, static_cast<int>(opts_.nbits), sub,
               size_t{j0} * opts_.nbits);
    for (uint32_t t = 0; t < cnt; ++t) {
      const uint32_t j = j0 + t, ds = sub_dim(j);
      std::memcpy(out + offsets_[j], centroids(j) + size_t{sub[t]} * ds,
                  sizeof(float) * ds);
    }
  }
}

void ProductQuantizer::ComputeIpTable(const float* q, float* lut) const {
  const size_t ks = ksub_;
  for (uint32_t j = 0; j < opts_.m; ++j) {
    const uint32_t ds = sub_dim(j), off = offsets_[j];
    const float* t = transposed_.data() + ks * off;
    float* out = lut + j * ks;
    std::fill(out, out + ks, 0.0f);
    for (uint32_t d = 0; d < ds; ++d) {
      const float qd = q[off + d];
      const float* row = t + d * ks;
      for (size_t c = 0; c < ks; ++c) out[c] += qd * row[c];
    }
  }
}

void ProductQuantizer::ComputeL2Table(const float* q, float* lut) const {
  const size_t ks = ksub_;
  for (uint32_t j = 0; j < opts_.m; ++j) {
    const uint32_t ds = sub_dim(j), off = offsets_[j];
    const float* t = transposed_.data() + ks * off;
    float* out = lut + j * ks;
    std::fill(out, out + ks, 0.0f);
    for (uint32_t d = 0; d < ds; ++d) {
      const float qd = q[off + d];
      const float* row = t + d * ks;
      for (size_t c = 0; c < ks; ++c) {
        const float diff = qd - row[c];
        out[c] += diff * diff;
      }
    }
  }
}

float ProductQuantizer::LookupSum(const float* lut, const uint8_t* code) const {
  const uint32_t m = opts_.m;
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  if (opts_.nbits == 8) {
    uint32_t j = 0;
    for (; j + 4 <= m; j += 4) {
      s0 += lut[(j + 0) * 256 + code[j + 0]];
      s1 += lut[(j + 1) * 256 + code[j + 1]];
      s2 += lut[(j + 2) * 256 + code[j + 2]];
      s3 += lut[(j + 3) * 256 + code[j + 3]];
    }
    for (; j < m; ++j) s0 += lut[j * 256 + code[j]];
  } else {
    uint32_t j = 0;
    for (; j + 4 <= m; j += 4) {
      const uint8_t b0 = code[j / 2], b1 = code[j / 2 + 1];
      s0 += lut[(j + 0) * 16 + (b0 & 15)];
      s1 += lut[(j + 1) * 16 + (b0 >> 4)];
      s2 += lut[(j + 2) * 16 + (b1 & 15)];
      s3 += lut[(j + 3) * 16 + (b1 >> 4)];
    }
    for (; j < m; ++j) {
      const uint8_t b = code[j / 2];
      s0 += lut[j * 16 + ((j % 2 == 0) ? (b & 15) : (b >> 4))];
    }
  }
  return (s0 + s1) + (s2 + s3);
}

std::string ProductQuantizer::Serialize() const {
  std::string s;
  s.reserve(kPqHeaderBytes + centroids_.size() * 4 + 4);
  PutFixed32(&s, kPqMagic);
  PutFixed32(&s, kPqVersion);
  PutFixed32(&s, opts_.dim);
  PutFixed32(&s, opts_.m);
  PutFixed32(&s, opts_.nbits);
  PutFixed32(&s, opts_.train_iters);
  PutFixed64(&s, opts_.seed);
  PutFixed64(&s, static_cast<uint64_t>(opts_.max_train_points));
  for (float v : centroids_) PutFloat(&s, v);
  PutCrcTrailer(&s);
  return s;
}

absl::StatusOr<std::unique_ptr<ProductQuantizer>> ProductQuantizer::Deserialize(
    absl::string_view bytes) {
  auto corrupt = [](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("PQ parameters: ", why));
  };
  if (bytes.size() < 4) return corrupt("truncated (no magic)");
  if (DecodeFixed32(reinterpret_cast<const uint8_t*>(bytes.data())) !=
      kPqMagic) {
    return corrupt("bad magic (not a PQ blob)");
  }
  if (bytes.size() < kPqHeaderBytes + 4) {
    return corrupt(absl::StrCat("truncated header (", bytes.size(), " bytes)"));
  }
  Decoder dec(bytes.substr(0, bytes.size() - 4));
  uint32_t magic, version, dim, m, nbits, iters;
  uint64_t seed, max_train;
  dec.GetFixed32(&magic);
  dec.GetFixed32(&version);
  dec.GetFixed32(&dim);
  dec.GetFixed32(&m);
  dec.GetFixed32(&nbits);
  dec.GetFixed32(&iters);
  dec.GetFixed64(&seed);
  dec.GetFixed64(&max_train);
  const bool header_ok =
      dim >= 1 && m >= 1 && m <= dim && (nbits == 4 || nbits == 8);
  // Total size implied by a version 1 header.
  const uint64_t expected =
      header_ok ? kPqHeaderBytes + (uint64_t{1} << nbits) * dim * 4 + 4 : 0;
  const uint32_t stored_crc = DecodeFixed32(
      reinterpret_cast<const uint8_t*>(bytes.data() + bytes.size() - 4));
  if (Crc32c(bytes.data(), bytes.size() - 4) != stored_crc) {
    if (version == kPqVersion && header_ok && bytes.size() < expected) {
      return corrupt(absl::StrCat("truncated (expected ", expected,
                                  " bytes, got ", bytes.size(), ")"));
    }
    return corrupt("checksum mismatch");
  }
  if (version != kPqVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("PQ format version ", version,
                     " is not supported (this build reads "
                     "version ",
                     kPqVersion, ")"));
  }
  if (!header_ok) {
    return corrupt(absl::StrCat("inconsistent header (dim=", dim, ", m=", m,
                                ", nbits=", nbits, ")"));
  }
  if (bytes.size() != expected) {
    return corrupt(absl::StrCat("wrong length (expected ", expected,
                                " bytes, got ", bytes.size(), ")"));
  }
  std::unique_ptr<ProductQuantizer> pq(new ProductQuantizer());
  pq->opts_.dim = dim;
  pq->opts_.m = m;
  pq->opts_.nbits = nbits;
  pq->opts_.train_iters = iters;
  pq->opts_.seed = seed;
  pq->opts_.max_train_points = static_cast<size_t>(max_train);
  pq->opts_.num_threads = 1;
  pq->InitLayout();
  pq->centroids_.resize(size_t{pq->ksub_} * dim);
  for (float& v : pq->centroids_) {
    dec.GetFloat(&v);
    if (!std::isfinite(v)) return corrupt("non-finite centroid");
  }
  pq->InitTables();
  return pq;
}

}  // namespace tqdb
