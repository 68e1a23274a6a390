// IvfIndex's trained parameters as bytes (db/FORMAT.md, `trained/`): the
// centroids, the codec and, since version 2, the probe statistics.
#include <cmath>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "index/ivf_index.h"
#include "quant/coding.h"
#include "quant/kmeans.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace {

constexpr uint32_t kIvfMagic = 0x31465654;  // "TVF1"
// 2: the probe statistics after the codec (1, still read: none).
constexpr uint32_t kIvfVersion = 2;

}  // namespace

std::string IvfIndex::SerializeTrained() const {
  std::string s;
  PutFixed32(&s, kIvfMagic);
  // Version 1 when there are no statistics (L2), readable by older builds.
  const bool stats = !list_spread_.empty();
  PutFixed32(&s, stats ? kIvfVersion : 1);
  PutFixed32(&s, options_.dim);
  PutFixed32(&s, static_cast<uint32_t>(options_.metric));
  PutFixed32(&s, nlist_);
  PutFixed32(&s, options_.residual ? 1 : 0);
  PutFixed64(&s, options_.seed);
  for (float c : centroids_) PutFloat(&s, c);
  PutBytes(&s, codec_->Serialize());
  if (stats) {
    PutFixed32(&s, static_cast<uint32_t>(list_spread_.size()));
    for (float v : list_spread_) PutFloat(&s, v);
    PutFloat(&s, spread_dims_);
  }
  PutCrcTrailer(&s);
  return s;
}

absl::StatusOr<std::unique_ptr<IvfIndex>> IvfIndex::FromTrained(
    absl::string_view bytes, const LayoutOptions& layout) {
  auto corrupt = [](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("IVF parameters: ", why));
  };
  if (bytes.size() < 8) return corrupt("truncated");
  absl::string_view payload;
  if (!CheckCrcTrailer(bytes, &payload)) return corrupt("checksum mismatch");
  Decoder dec(payload);
  uint32_t magic = 0, version = 0, dim = 0, metric = 0, nlist = 0, residual = 0;
  uint64_t seed = 0;
  if (!dec.GetFixed32(&magic) || !dec.GetFixed32(&version)) {
    return corrupt("truncated header");
  }
  if (magic != kIvfMagic) return corrupt("bad magic");
  if (version != kIvfVersion && version != 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "IVF format version ", version,
        " is not supported (this build reads 1 to ", kIvfVersion, ")"));
  }
  if (!dec.GetFixed32(&dim) || !dec.GetFixed32(&metric) ||
      !dec.GetFixed32(&nlist) || !dec.GetFixed32(&residual) ||
      !dec.GetFixed64(&seed) || dim < 2 || metric > 2 || nlist == 0) {
    return corrupt("bad header");
  }
  std::unique_ptr<IvfIndex> idx(new IvfIndex());
  idx->options_.dim = dim;
  idx->options_.metric = static_cast<Metric>(metric);
  idx->options_.nlist = nlist;
  idx->options_.residual = residual != 0;
  idx->options_.seed = seed;
  idx->options_.layout = layout;
  idx->nlist_ = nlist;
  idx->centroids_.resize(size_t{nlist} * dim);
  for (float& c : idx->centroids_) {
    if (!dec.GetFloat(&c)) return corrupt("truncated centroids");
  }
  absl::string_view codec;
  if (!dec.GetBytes(&codec)) return corrupt("bad codec");
  if (version >= 2) {
    uint32_t nspread = 0;
    if (!dec.GetFixed32(&nspread) || (nspread != 0 && nspread != nlist)) {
      return corrupt("bad probe statistics");
    }
    idx->list_spread_.resize(nspread);
    for (float& v : idx->list_spread_) {
      if (!dec.GetFloat(&v) || !(v >= 0 && std::isfinite(v))) {
        return corrupt("bad probe statistics");
      }
    }
    if (!dec.GetFloat(&idx->spread_dims_) ||
        (nspread != 0 &&
         !(idx->spread_dims_ > 0 && idx->spread_dims_ <= float(dim)))) {
      return corrupt("bad probe statistics");
    }
  }
  if (dec.remaining()) return corrupt("bad codec");
  TQ_ASSIGN_OR_RETURN(idx->codec_, ScanCodec::Deserialize(codec));
  if (idx->codec_->dim() != dim) return corrupt("codec dimension mismatch");
  idx->options_.codec = idx->codec_->options();
  idx->assigner_ =
      std::make_unique<CentroidAssigner>(idx->centroids_.data(), nlist, dim);
  idx->InitLists();
  return idx;
}

}  // namespace tqdb
