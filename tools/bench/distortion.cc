// tqdb distortion: the quantizer demo and its measurements.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "quant/pq.h"
#include "quant/random.h"
#include "quant/status_macros.h"
#include "quant/turbo_quantizer.h"
#include "tools/bench/commands.h"
#include "tools/bench/stopwatch.h"
#include "tools/cli/output.h"
#include "tools/io/matrix.h"

namespace tqdb {
namespace {

constexpr char kDistortionCommand[] = "distortion";

constexpr char kDistortionHelp[] =
    "usage: tqdb distortion (--dim D | --input FILE.fvecs) [flags]\n"
    "\n"
    "Encodes vectors with each method and bit width and reports, on\n"
    "unit-normalized vectors: d_mse = E||x - x~||^2 / ||x||^2, the bias and\n"
    "variance of the inner-product estimate <q, x> over (x, q) pairs, bytes\n"
    "per vector (codes + per-vector factors) and single-thread encode speed.\n"
    "Without --input: random unit vectors in R^D, each paired with a query at\n"
    "cosine ~0.6 (so a biased estimator shows its bias). With --input: rows "
    "of\n"
    "the file, each paired with another random row.\n"
    "PQ is measured at the bytes per vector of 'renorm' at the same bits\n"
    "(m = that many 8-bit sub-quantizers, at most D), trained on held-out\n"
    "vectors: as many fresh random ones, or the file's rows after the first\n"
    "N (the file split in half if it has fewer than N + 1000 rows).\n"
    "\n"
    "flags:\n"
    "  --dim D          dimension of random data (or must match --input)\n"
    "  --input FILE     .fvecs file of your own vectors\n"
    "  --bits LIST      bits per coordinate, 1..8 (default 1,2,3,4)\n"
    "  --methods LIST   of mse,prod,renorm,pq (default all four)\n"
    "  --n N            vectors to encode (default 2000, or the file's rows\n"
    "                   up to 10000)\n"
    "  --seed S         rotation and data seed (default 1)\n"
    "  --json           one JSON object per (method, bits) line\n";

struct Row {
  std::string method;
  uint32_t bits = 0;
  size_t dim = 0;
  double d_mse = 0, ip_bias = 0, ip_var = 0;
  size_t bytes_per_vector = 0;
  double encode_per_s = 0, train_s = 0;
};

// Unit-normalizes rows in place; zero rows stay zero.
void NormalizeRows(std::vector<float>* x, size_t n, size_t d) {
  for (size_t i = 0; i < n; ++i) {
    double s = 0;
    for (size_t j = 0; j < d; ++j)
      s += double{(*x)[i * d + j]} * (*x)[i * d + j];
    if (s <= 0) continue;
    const float inv = static_cast<float>(1.0 / std::sqrt(s));
    for (size_t j = 0; j < d; ++j) (*x)[i * d + j] *= inv;
  }
}

// Runs `encode_all` until at least 0.2 s have passed; returns vectors/s.
template <typename F>
double Throughput(size_t n, F encode_all) {
  size_t done = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double s = 0;
  do {
    encode_all();
    done += n;
    s = Seconds(t0);
  } while (s < 0.2);
  return done / s;
}

// Encodes the n rows of x with `encode_all` (timed), then fills d_mse,
// ip_bias and ip_var of `row` from `decode(code, out)` and
// `estimate(i, code)` (the estimated <q_i, x_i>).
template <typename Encode, typename Decode, typename Estimate>
absl::Status MeasureCodes(const std::vector<float>& x,
                          const std::vector<float>& q, size_t n, size_t d,
                          size_t bpv, Encode encode_all, Decode decode,
                          Estimate estimate, Row* row) {
  std::vector<uint8_t> codes(n * bpv);
  absl::Status st;
  row->encode_per_s =
      Throughput(n, [&] { st = encode_all(x.data(), n, codes.data()); });
  if (!st.ok()) return st;
  std::vector<float> rec(d);
  double mse = 0;
  std::vector<double> err(n);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* code = codes.data() + i * bpv;
    decode(code, rec.data());
    double e = 0, truth = 0;
    for (size_t j = 0; j < d; ++j) {
      const double t = double{rec[j]} - x[i * d + j];
      e += t * t;
      truth += double{x[i * d + j]} * q[i * d + j];
    }
    mse += e;
    absl::StatusOr<float> est = estimate(i, code);
    if (!est.ok()) return est.status();
    err[i] = *est - truth;
  }
  double mean = 0, var = 0;
  for (double e : err) mean += e;
  mean /= n;
  for (double e : err) var += (e - mean) * (e - mean);
  var /= std::max<size_t>(1, n - 1);
  row->dim = d;
  row->d_mse = mse / n;
  row->ip_bias = mean;
  row->ip_var = var;
  row->bytes_per_vector = bpv;
  return absl::OkStatus();
}

absl::Status MeasureTurbo(TqMethod method, uint32_t bits, uint64_t seed,
                          const std::vector<float>& x,
                          const std::vector<float>& q, size_t n, size_t d,
                          Row* row) {
  TurboOptions o;
  o.dim = static_cast<uint32_t>(d);
  o.bits = bits;
  o.method = method;
  o.seed = seed;
  auto made = TurboQuantizer::Create(o);
  if (!made.ok()) return made.status();
  const TurboQuantizer& tq = **made;
  row->method = TqMethodName(method);
  row->bits = bits;
  return MeasureCodes(
      x, q, n, d, tq.bytes_per_vector(),
      [&](const float* v, size_t m, uint8_t* c) {
        return tq.EncodeBatch(v, m, c);
      },
      [&](const uint8_t* c, float* out) { tq.Decode(c, out); },
      [&](size_t i, const uint8_t* c) -> absl::StatusOr<float> {
        auto query = tq.PrepareQuery(absl::MakeConstSpan(&q[i * d], d));
        if (!query.ok()) return query.status();
        return tq.EstimateIp(*query, c);
      },
      row);
}

// PQ trains on `train` (nt rows), held out from the evaluated rows x.
absl::Status MeasurePq(uint32_t bits, uint64_t seed,
                       const std::vector<float>& x, const std::vector<float>& q,
                       size_t n, size_t d, const std::vector<float>& train,
                       size_t nt, Row* row) {
  // Equal bytes to renorm at the same bits.
  const size_t bytes = (size_t{bits} * d + 7) / 8 + 8;
  PqOptions o;
  o.dim = static_cast<uint32_t>(d);
  o.m = static_cast<uint32_t>(std::min(bytes, d));
  o.nbits = 8;
  o.seed = seed;
  const auto t0 = std::chrono::steady_clock::now();
  auto made = ProductQuantizer::Train(o, train.data(), nt);
  if (!made.ok()) return made.status();
  row->train_s = Seconds(t0);
  const ProductQuantizer& pq = **made;
  row->method = "pq";
  row->bits = bits;
  std::vector<float> lut(pq.lut_size());
  return MeasureCodes(
      x, q, n, d, pq.code_bytes(),
      [&](const float* v, size_t m, uint8_t* c) {
        return pq.EncodeBatch(v, m, c);
      },
      [&](const uint8_t* c, float* out) { pq.Decode(c, out); },
      [&](size_t i, const uint8_t* c) -> absl::StatusOr<float> {
        pq.ComputeIpTable(&q[i * d], lut.data());
        return pq.LookupSum(lut.data(), c);
      },
      row);
}

}  // namespace

const FlagSpec& DistortionFlags() {
  static const FlagSpec* spec =
      new FlagSpec{{"dim", "input", "bits", "methods", "n", "seed"}, {"json"}};
  return *spec;
}

int RunDistortion(const std::vector<std::string>& args, std::ostream& out,
                  std::ostream& err) {
  int exit_code;
  std::optional<Flags> flags =
      ParseCommandLine(kDistortionCommand, args, DistortionFlags(),
                       kDistortionHelp, out, err, &exit_code);
  if (!flags) return exit_code;
  auto usage = [&](const absl::Status& s) {
    return UsageError(kDistortionCommand, s, err);
  };
  auto bits = flags->GetIntList("bits", "1,2,3,4", 1, 8);
  if (!bits.ok()) return usage(bits.status());
  auto methods = flags->GetWordList("methods", "mse,prod,renorm,pq",
                                    {"mse", "prod", "renorm", "pq"});
  if (!methods.ok()) return usage(methods.status());
  auto seed = flags->GetInt("seed", 1, 0, INT64_MAX);
  if (!seed.ok()) return usage(seed.status());
  auto dim_flag = flags->GetInt("dim", 0, 2, 1 << 16);
  if (!dim_flag.ok()) return usage(dim_flag.status());
  const bool json = flags->Has("json");
  const std::string input = flags->GetString("input");
  if (input.empty() && !flags->Has("dim")) {
    return usage(absl::InvalidArgumentError("give --dim D or --input FILE"));
  }
  auto n_flag = flags->GetInt("n", input.empty() ? 2000 : 10000, 2, 10000000);
  if (!n_flag.ok()) return usage(n_flag.status());

  size_t n = static_cast<size_t>(*n_flag), d = 0, nt = 0;
  std::vector<float> x, q, train;  // PQ trains on `train`, held out
  Rng rng(static_cast<uint64_t>(*seed) * 7919 + 13);
  if (!input.empty()) {
    // Up to n evaluated rows plus up to n more held out for PQ training.
    ReaderOptions fvecs;
    fvecs.format = "fvecs";
    absl::StatusOr<FloatMatrix> read = ReadFloatMatrix(input, 2 * n, fvecs);
    if (!read.ok()) return InputError(kDistortionCommand, read.status(), err);
    const FloatMatrix& m = *read;
    if (flags->Has("dim") && static_cast<size_t>(*dim_flag) != m.dim) {
      return usage(absl::InvalidArgumentError(
          absl::StrCat("--dim ", *dim_flag, " does not match ", input,
                       " (dimension ", m.dim, ")")));
    }
    if (m.dim < 2) {
      return usage(absl::InvalidArgumentError(
          absl::StrCat(input, ": dimension ", m.dim, " is below 2")));
    }
    d = m.dim;
    // Evaluate the first n rows and train PQ on the rest; a file with fewer
    // than n + 1,000 rows is split in half.
    n = m.rows >= n + 1000 ? n : (m.rows + 1) / 2;
    nt = m.rows - n;
    x.assign(m.data.begin(), m.data.begin() + n * d);
    train.assign(m.data.begin() + n * d, m.data.end());
    NormalizeRows(&x, n, d);
    NormalizeRows(&train, nt, d);
    // Pair each row with another random row (a derangement when n >= 2).
    const std::vector<uint32_t> perm =
        RandomPermutation(static_cast<uint32_t>(n), &rng);
    q.resize(n * d);
    for (size_t i = 0; i < n; ++i) {
      size_t j = perm[i] == i ? perm[(i + 1) % n] : perm[i];
      std::copy(&x[j * d], &x[j * d] + d, &q[i * d]);
    }
  } else {
    d = static_cast<size_t>(*dim_flag);
    x.resize(n * d);
    q.resize(n * d);
    for (size_t i = 0; i < n * d; ++i)
      x[i] = static_cast<float>(rng.Gaussian());
    NormalizeRows(&x, n, d);
    for (size_t i = 0; i < n * d; ++i) {
      q[i] = 0.6f * x[i] +
             0.8f * static_cast<float>(rng.Gaussian() / std::sqrt(double(d)));
    }
    NormalizeRows(&q, n, d);
    nt = n;
    train.resize(nt * d);
    for (float& v : train) v = static_cast<float>(rng.Gaussian());
    NormalizeRows(&train, nt, d);
  }

  if (!json) {
    out << absl::StrFormat(
        "tqdb distortion: %zu %s vectors, d=%zu (unit-normalized)\n", n,
        input.empty() ? "random" : input.c_str(), d);
    out << absl::StrFormat("%-7s %4s %6s %10s %11s %10s %14s\n", "method",
                           "bits", "bytes", "d_mse", "ip_bias", "ip_var",
                           "encode vec/s");
  }
  for (const std::string& method : *methods) {
    for (int64_t b : *bits) {
      Row row;
      absl::Status s;
      if (method == "pq") {
        s = MeasurePq(static_cast<uint32_t>(b), *seed, x, q, n, d, train, nt,
                      &row);
      } else {
        s = MeasureTurbo(*ParseTqMethod(method), static_cast<uint32_t>(b),
                         *seed, x, q, n, d, &row);
      }
      if (!s.ok()) {
        return Fail(kDistortionCommand,
                    WithContext(s, method, " at ", b, " bits"), err);
      }
      if (json) {
        out << absl::StrFormat(
            "{\"method\":\"%s\",\"bits\":%u,\"dim\":%zu,\"n\":%zu,"
            "\"d_mse\":%.6g,\"ip_bias\":%.6g,\"ip_var\":%.6g,"
            "\"bytes_per_vector\":%zu,\"encode_vectors_per_s\":%.1f,"
            "\"train_s\":%.4f}\n",
            row.method, row.bits, row.dim, n, row.d_mse, row.ip_bias,
            row.ip_var, row.bytes_per_vector, row.encode_per_s, row.train_s);
      } else {
        out << absl::StrFormat(
            "%-7s %4u %6zu %10.5f %+11.2e %10.3e %14.0f%s\n", row.method,
            row.bits, row.bytes_per_vector, row.d_mse, row.ip_bias, row.ip_var,
            row.encode_per_s,
            method == "pq" ? absl::StrFormat("  (train %.2fs)", row.train_s)
                           : "");
      }
    }
  }
  return kExitOk;
}

}  // namespace tqdb
