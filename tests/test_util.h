// Helpers shared by tqdb tests: random data and the shared real data sets.
#ifndef TQDB_TESTS_TEST_UTIL_H_
#define TQDB_TESTS_TEST_UTIL_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "quant/random.h"
#include "quant/turbo_quantizer.h"

namespace tqdb {
namespace testing_util {

// The groups of a search (SearchRequest.group_by) as the whole ranking
// defines them: `ranked` ids best first, each in the groups of its values
// (`values_of`); the first `limit` values met, the first `size` ids of
// each. A pair (value, ids) a group.
inline std::vector<std::pair<std::string, std::vector<uint64_t>>>
GroupsOfRanking(
    const std::vector<uint64_t>& ranked, size_t limit, size_t size,
    const std::function<std::vector<std::string>(uint64_t)>& values_of) {
  std::vector<std::pair<std::string, std::vector<uint64_t>>> groups;
  for (uint64_t id : ranked) {
    for (const std::string& v : values_of(id)) {
      auto it = std::find_if(groups.begin(), groups.end(),
                             [&](const auto& g) { return g.first == v; });
      if (it == groups.end()) {
        if (groups.size() == limit) continue;
        groups.push_back({v, {}});
        it = groups.end() - 1;
      }
      if (it->second.size() < size) it->second.push_back(id);
    }
  }
  return groups;
}

// n random unit vectors in R^d (Gaussian, normalized), row-major.
inline std::vector<float> RandomUnitVectors(size_t n, size_t d, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> x(n * d);
  for (size_t i = 0; i < n; ++i) {
    double s = 0;
    for (size_t j = 0; j < d; ++j) {
      const double g = rng.Gaussian();
      x[i * d + j] = static_cast<float>(g);
      s += g * g;
    }
    const float inv = static_cast<float>(1.0 / std::sqrt(s));
    for (size_t j = 0; j < d; ++j) x[i * d + j] *= inv;
  }
  return x;
}

// n points around 32 Gaussian centres, row-major, each spread along the
// axes by 0.6 exp(-3 j / d): anisotropic clustered data (the pca codec's
// case, whose variance falls with the axis).
inline std::vector<float> AnisotropicBlobs(size_t n, size_t d, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> centers(32 * d);
  for (float& c : centers) c = static_cast<float>(rng.Gaussian());
  std::vector<float> x(n * d);
  for (size_t i = 0; i < n; ++i) {
    const size_t c = rng.Uniform(32);
    for (size_t j = 0; j < d; ++j) {
      const double spread = 0.6 * std::exp(-3.0 * j / d);
      x[i * d + j] =
          centers[c * d + j] + static_cast<float>(spread * rng.Gaussian());
    }
  }
  return x;
}

// Directory of the shared real data sets, or "" if absent.
inline std::string SharedDataDir() {
  const char* env = std::getenv("TQDB_SHARED_DATA");
  std::string dir = env ? env : "";
#ifdef TQDB_SHARED_DATA
  if (dir.empty()) dir = TQDB_SHARED_DATA;
#endif
  return dir;
}

// Reads a TEXMEX .fvecs/.ivecs file (int32 d, then d 4-byte values per row).
// Returns false if the file is missing or malformed.
template <typename T>
bool ReadVecs(const std::string& path, std::vector<T>* out, size_t* n,
              size_t* d) {
  static_assert(sizeof(T) == 4, "fvecs/ivecs hold 4-byte values");
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  out->clear();
  *n = 0;
  *d = 0;
  int32_t dim;
  while (std::fread(&dim, 4, 1, f) == 1) {
    if (dim <= 0 || (*d != 0 && static_cast<size_t>(dim) != *d)) {
      std::fclose(f);
      return false;
    }
    *d = dim;
    const size_t old = out->size();
    out->resize(old + dim);
    if (std::fread(out->data() + old, 4, dim, f) != static_cast<size_t>(dim)) {
      std::fclose(f);
      return false;
    }
    ++*n;
  }
  std::fclose(f);
  return *n > 0;
}

// use512-debian-pkgdesc from the shared data: the 20,000 base rows, the
// 1,000 queries and their top-100 ids by inner product (k a query).
struct Use512 {
  std::vector<float> base, queries;
  std::vector<int32_t> gt;
  size_t n = 0, d = 0, nq = 0, k = 0;
};
// False if the shared data is absent or malformed (the caller skips).
inline bool LoadUse512(Use512* u) {
  const std::string dir = SharedDataDir() + "/use512-debian-pkgdesc/";
  size_t dq = 0, ngt = 0;
  return ReadVecs(dir + "debdesc_use512_base_20k.fvecs", &u->base, &u->n,
                  &u->d) &&
         ReadVecs(dir + "debdesc_use512_query_1k.fvecs", &u->queries, &u->nq,
                  &dq) &&
         ReadVecs(dir + "debdesc_use512_query_1k.gt_ip_top100.ivecs", &u->gt,
                  &ngt, &u->k) &&
         dq == u->d && ngt == u->nq;
}

// Codes of fixed data for every TurboQuant method (d = 100, 3 bits, seed
// 2024), concatenated. Their CRC32C is pinned by tests: it must be the same
// on every machine and SIMD target, forever.
constexpr uint32_t kGoldenCodesCrc = 1868075301u;
inline std::string GoldenCodeBytes() {
  const uint32_t d = 100;
  std::vector<float> x(3 * d);
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = static_cast<float>(static_cast<int>(i * 37 % 101) - 50) / 17.0f;
  }
  std::string all;
  for (TqMethod m : {TqMethod::kMse, TqMethod::kProd, TqMethod::kRenorm}) {
    TurboOptions o;
    o.dim = d;
    o.bits = 3;
    o.method = m;
    o.seed = 2024;
    auto q = TurboQuantizer::Create(o);
    if (!q.ok()) return "";
    std::vector<uint8_t> codes(3 * (*q)->bytes_per_vector());
    if (!(*q)->EncodeBatch(x.data(), 3, codes.data()).ok()) return "";
    all.append(reinterpret_cast<const char*>(codes.data()), codes.size());
  }
  return all;
}

}  // namespace testing_util
}  // namespace tqdb

#endif  // TQDB_TESTS_TEST_UTIL_H_
