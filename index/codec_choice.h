// Training-time choice between variants of a scalar codec (ScanCodec with
// scalar_info()) by the ranking they give on the index's own training
// sample: a part of the sample's rows are queries over the rest, and the
// variant whose estimates find more of each query's true top 10 is kept.
// Used for the pca codec's query weighting (CodecOptions::pca_weighting),
// which gives more recall per byte on some data (use512: 10-recall@10
// 0.945 -> 0.955 at 2 bits) and less on other (GloVe-100 cosine, 2 bits:
// 0.741 -> 0.728): which, only the data can say.
#ifndef TQDB_INDEX_CODEC_CHOICE_H_
#define TQDB_INDEX_CODEC_CHOICE_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "index/scan_codec.h"
#include "index/types.h"

namespace tqdb {

// Rows as the index encodes them: x (n x d, normalized for cosine), each
// coded as the residual x - centroid[list[i]] (centroids null: x itself).
struct ValidationSample {
  const float* x = nullptr;
  size_t n = 0;
  uint32_t d = 0;
  const float* centroids = nullptr;  // nlist x d
  uint32_t nlist = 0;
  const uint32_t* list = nullptr;  // n
  Metric metric = Metric::kInnerProduct;
  bool center_factor = false;  // the index adds the centroid correction
};

// How the choice is made: kChoiceQueries rows of the sample (a tenth if
// fewer; seeded) are queries over the others, scored as the index scores
// (residuals, the centroid correction, exact norms for L2). The weighting
// is kept only if its 10-recall@10 is higher by kChoiceSigmas standard
// errors of the queries' paired differences: a gain the sample cannot tell
// from noise keeps the unweighted codec, which assumes nothing about the
// queries.
inline constexpr size_t kChoiceQueries = 300, kChoiceMinBase = 100;
inline constexpr double kChoiceSigmas = 2.0;

// The pca codec (o.method "pca") trained on the s.n residual rows of
// `train` (the rows s.x coded as in s): with o.pca_weighting kAuto, trained
// with and without the weighting and the better kept (above; a sample of
// fewer than 10 queries and 100 base rows keeps it unweighted); kOn and
// kOff as they say. `threads` (resolved, >= 1) run the choice: the two
// variants' training side by side, then the scoring; the choice is the
// same for every thread count.
absl::StatusOr<std::unique_ptr<ScanCodec>> TrainPcaCodec(
    const CodecOptions& o, const float* train, const ValidationSample& s,
    uint64_t seed, uint32_t threads = 1);

}  // namespace tqdb

#endif  // TQDB_INDEX_CODEC_CHOICE_H_
