// A collection's BM25 settings (CollectionConfig::bm25): how its texts
// become sparse vectors and its query texts sparse queries (db/bm25.h).
#ifndef TQDB_DB_BM25_CONFIG_H_
#define TQDB_DB_BM25_CONFIG_H_

#include <string>

namespace tqdb {

struct Bm25Config {
  // A Snowball stemmer's language (libstemmer: "english", "french", ...) or
  // "none" (words as they are).
  std::string language = "english";
  float k1 = 1.2f;         // term frequency saturation, >= 0
  float b = 0.75f;         // document length normalization, in [0, 1]
  float avg_len = 256.0f;  // words of an average document, > 0
  bool operator==(const Bm25Config& o) const {
    return language == o.language && k1 == o.k1 && b == o.b &&
           avg_len == o.avg_len;
  }
  bool operator!=(const Bm25Config& o) const { return !(*this == o); }
};

}  // namespace tqdb

#endif  // TQDB_DB_BM25_CONFIG_H_
