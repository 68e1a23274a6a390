// The coarse step of a search: the nprobe lists whose centroids are nearest
// a query in L2, exactly as a full float scan ranks them, at about half its
// memory traffic. A first pass reads the centroids in binary16 and ranks
// them by ||c||^2 - 2 <q, c~>; its error is at most e_l = 2^-9 ||q|| ||c_l||
// (2^-11 per rounded coordinate, doubled, and as much again) plus a term
// for subnormal halves and float sums, so with U the
// nprobe-th smallest d~_l + e_l, every list outside S = {l : d~_l - e_l <= U}
// is strictly farther than nprobe lists. Only S (about nprobe lists) is
// scored in float, as before, and ranked (ties to the lower list id).
//
// Thread-safety: immutable after construction.
#ifndef TQDB_INDEX_COARSE_H_
#define TQDB_INDEX_COARSE_H_

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace tqdb {

class CentroidScan {
 public:
  // centroids: nlist x dim floats, kept by the caller for the object's
  // lifetime.
  CentroidScan(const float* centroids, uint32_t nlist, uint32_t dim);

  // The min(nprobe, nlist) nearest lists, nearest first, as (-squared
  // distance, list id).
  void Nearest(const float* q, uint32_t nprobe,
               std::vector<std::pair<float, uint32_t>>* out) const;
  size_t MemoryBytes() const;

 private:
  const float* centroids_;
  uint32_t nlist_, dim_;
  std::vector<uint16_t> half_;  // nlist x dim binary16
  std::vector<float> norm_sq_, norm_;
};

}  // namespace tqdb

#endif  // TQDB_INDEX_COARSE_H_
