// The pinned random number generator behind every seeded structure in tqdb
// (rotations, sketches, k-means seeding). The algorithms are fixed forever:
// SplitMix64 expands a 64-bit seed, xoshiro256** generates, bounded integers
// use Lemire's multiply-shift with rejection. Changing any of them would
// change codes for existing collections, so they are versioned with the
// rotation format. std:: distributions are never used (their output is
// implementation-defined).
//
// Thread-safety: a Rng is not thread-safe; use one per thread.
#ifndef TQDB_QUANT_RANDOM_H_
#define TQDB_QUANT_RANDOM_H_

#include <cstdint>
#include <vector>

namespace tqdb {

uint64_t SplitMix64(uint64_t* state);

class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t Next();
  // Uniform in [0, n), n > 0, exactly reproducible.
  uint64_t Uniform(uint64_t n);
  // Uniform double in [0, 1) with 53 random bits.
  double UniformDouble();
  // Standard normal (Box-Muller). Uses libm, so the last bits may differ
  // across platforms: only for test references and non-pinned options.
  double Gaussian();

 private:
  uint64_t s_[4];
  bool have_spare_ = false;
  double spare_ = 0.0;
};

// A uniformly random permutation of [0, n) (Fisher-Yates).
std::vector<uint32_t> RandomPermutation(uint32_t n, Rng* rng);

}  // namespace tqdb

#endif  // TQDB_QUANT_RANDOM_H_
