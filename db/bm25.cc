#include "db/bm25.h"

#include <libstemmer.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "db/sparse_index.h"
#include "db/text_words.h"
#include "quant/echo.h"

namespace tqdb {
namespace {

constexpr absl::string_view kNoStemming = "none";

struct StemmerDeleter {
  void operator()(sb_stemmer* s) const { sb_stemmer_delete(s); }
};
using StemmerPtr = std::unique_ptr<sb_stemmer, StemmerDeleter>;

// This thread's stemmer of `language` (a libstemmer stemmer is not safe to
// share between threads), or null for an unknown language (not kept: the
// names a client tries must not grow the map).
sb_stemmer* ThreadStemmer(const std::string& language) {
  thread_local absl::flat_hash_map<std::string, StemmerPtr> stemmers;
  auto it = stemmers.find(language);
  if (it != stemmers.end()) return it->second.get();
  StemmerPtr stemmer(sb_stemmer_new(language.c_str(), "UTF_8"));
  if (stemmer == nullptr) return nullptr;
  return stemmers.emplace(language, std::move(stemmer)).first->second.get();
}

uint32_t Rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

// The distinct terms of `text` with their counts, by index, and the words.
struct TermCounts {
  absl::flat_hash_map<uint32_t, uint32_t> counts;
  size_t words = 0;
};

TermCounts CountTerms(const Bm25Config& config, absl::string_view text) {
  TermCounts out;
  const std::vector<std::string> terms = Bm25Terms(config, text);
  out.words = terms.size();
  for (const std::string& t : terms) ++out.counts[Bm25TermIndex(t)];
  return out;
}

SparseVector Sorted(const absl::flat_hash_map<uint32_t, float>& weights) {
  std::vector<std::pair<uint32_t, float>> v(weights.begin(), weights.end());
  std::sort(v.begin(), v.end());
  SparseVector out;
  out.indices.reserve(v.size());
  out.values.reserve(v.size());
  for (const auto& [index, value] : v) {
    out.indices.push_back(index);
    out.values.push_back(value);
  }
  return out;
}

}  // namespace

std::vector<std::string> Bm25Languages() {
  std::vector<std::string> out;
  for (const char** l = sb_stemmer_list(); *l != nullptr; ++l) {
    out.emplace_back(*l);
  }
  out.emplace_back(kNoStemming);
  return out;
}

absl::Status ValidateBm25Config(Bm25Config* config) {
  if (!(std::isfinite(config->k1) && config->k1 >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bm25 k1 must be finite and >= 0, got ", config->k1));
  }
  if (!(config->b >= 0 && config->b <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bm25 b must be in [0, 1], got ", config->b));
  }
  if (!(std::isfinite(config->avg_len) && config->avg_len > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bm25 avg_len must be finite and > 0, got ", config->avg_len));
  }
  absl::AsciiStrToLower(&config->language);
  if (config->language != kNoStemming &&
      ThreadStemmer(config->language) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("bm25 language '", EchoInput(config->language),
                     "' has no Snowball stemmer; one of ",
                     absl::StrJoin(Bm25Languages(), ", ")));
  }
  return absl::OkStatus();
}

std::vector<std::string> Bm25Terms(const Bm25Config& config,
                                   absl::string_view text) {
  std::vector<std::string> words;
  AppendTextWords(text, &words);
  if (config.language == kNoStemming) return words;
  sb_stemmer* stemmer = ThreadStemmer(config.language);
  if (stemmer == nullptr) return words;  // (validated at creation)
  // Words repeat (Zipf): this thread's recent stems of the language save
  // the stemmer most of its calls. Bounded: emptied when full (~2 MB).
  constexpr size_t kMaxCachedStems = 16384;
  thread_local absl::flat_hash_map<std::string, std::string> stems;
  thread_local std::string stems_language;
  if (stems_language != config.language) {
    stems.clear();
    stems_language = config.language;
  }
  for (std::string& w : words) {
    if (auto it = stems.find(w); it != stems.end()) {
      w = it->second;
      continue;
    }
    const sb_symbol* s =
        sb_stemmer_stem(stemmer, reinterpret_cast<const sb_symbol*>(w.data()),
                        static_cast<int>(w.size()));
    // Null only when out of memory: the word stays as it is.
    if (s == nullptr) continue;
    std::string stem(reinterpret_cast<const char*>(s),
                     static_cast<size_t>(sb_stemmer_length(stemmer)));
    if (stems.size() >= kMaxCachedStems) stems.clear();
    stems.emplace(std::move(w), stem);
    w = std::move(stem);
  }
  return words;
}

uint32_t Bm25TermIndex(absl::string_view term) {
  // MurmurHash3_x86_32 (Austin Appleby, public domain), seed 0.
  const auto* data = reinterpret_cast<const uint8_t*>(term.data());
  const size_t len = term.size();
  constexpr uint32_t c1 = 0xcc9e2d51, c2 = 0x1b873593;
  uint32_t h = 0;
  const size_t blocks = len / 4;
  for (size_t i = 0; i < blocks; ++i) {
    uint32_t k = uint32_t{data[4 * i]} | uint32_t{data[4 * i + 1]} << 8 |
                 uint32_t{data[4 * i + 2]} << 16 |
                 uint32_t{data[4 * i + 3]} << 24;
    k *= c1;
    k = Rotl32(k, 15);
    k *= c2;
    h ^= k;
    h = Rotl32(h, 13);
    h = h * 5 + 0xe6546b64;
  }
  const uint8_t* tail = data + 4 * blocks;
  uint32_t k = 0;
  switch (len & 3) {
    case 3:
      k ^= uint32_t{tail[2]} << 16;
      [[fallthrough]];
    case 2:
      k ^= uint32_t{tail[1]} << 8;
      [[fallthrough]];
    case 1:
      k ^= tail[0];
      k *= c1;
      k = Rotl32(k, 15);
      k *= c2;
      h ^= k;
  }
  h ^= static_cast<uint32_t>(len);
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return h;
}

SparseVector Bm25Document(const Bm25Config& config, absl::string_view text) {
  const TermCounts tc = CountTerms(config, text);
  const double k1 = config.k1, b = config.b;
  const double norm =
      k1 * (1 - b + b * static_cast<double>(tc.words) / config.avg_len);
  absl::flat_hash_map<uint32_t, float> weights;
  for (const auto& [index, count] : tc.counts) {
    const double tf = count;
    weights[index] = static_cast<float>(tf * (k1 + 1) / (tf + norm));
  }
  return Sorted(weights);
}

SparseVector Bm25Query(const Bm25Config& config, absl::string_view text) {
  const TermCounts tc = CountTerms(config, text);
  absl::flat_hash_map<uint32_t, float> weights;
  for (const auto& [index, count] : tc.counts) weights[index] = 1.0f;
  return Sorted(weights);
}

absl::StatusOr<SparseVector> PointTextVector(const CollectionConfig& config,
                                             const Point& p) {
  if (!config.bm25.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "collection '", config.name,
        "' has no bm25 settings: a text is indexed only in a collection "
        "created with bm25"));
  }
  if (!p.sparse.empty()) {
    return absl::InvalidArgumentError(
        "a text and a sparse vector: give one (the text becomes the sparse "
        "vector)");
  }
  SparseVector v = Bm25Document(*config.bm25, p.text);
  if (v.indices.size() > kMaxSparseNonZeros) {
    return absl::InvalidArgumentError(
        absl::StrCat("text holds ", v.indices.size(),
                     " distinct terms, more than ", kMaxSparseNonZeros));
  }
  return v;
}

absl::Status ResolvePointTexts(const CollectionConfig& config,
                               std::vector<Point>* points) {
  for (size_t i = 0; i < points->size(); ++i) {
    Point& p = (*points)[i];
    if (p.text.empty()) continue;
    absl::StatusOr<SparseVector> v = PointTextVector(config, p);
    if (!v.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("point ", i, " (id ", p.id, "): ", v.status().message(),
                       "; batch rejected"));
    }
    p.sparse = *std::move(v);
    p.text.clear();
  }
  return absl::OkStatus();
}

}  // namespace tqdb
