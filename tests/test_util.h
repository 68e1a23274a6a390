// Helpers shared by tqdb tests: random data and the shared real data sets.
#ifndef TQDB_TESTS_TEST_UTIL_H_
#define TQDB_TESTS_TEST_UTIL_H_

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "quant/random.h"

namespace tqdb {
namespace testing_util {

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

}  // namespace testing_util
}  // namespace tqdb

#endif  // TQDB_TESTS_TEST_UTIL_H_
