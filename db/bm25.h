// BM25 full-text ranking on sparse vectors (Milvus's BM25 function, Qdrant's
// "bm25" model with the IDF modifier): a collection created with a
// Bm25Config turns a point's text into a sparse vector of BM25 term
// weights, and a query text into a sparse query over the same terms, which
// a sparse search with the IDF (db/sparse_index.h: ApplyIdf) then ranks by
//
//   sum over the query's terms t of IDF(t) * tf (k1 + 1) / (tf + k1 (1 - b +
//   b |d| / avg_len))
//
// (tf the term's count in the document, |d| the document's words). As
// Qdrant's, the document length is normalized by the configured avg_len,
// not by the collection's running mean: weights are computed once, at
// ingestion, and stay valid as the collection grows.
//
// Terms: the words of db/text_words.h (the full-text filters' tokenizer:
// case folded, no stop words), each stemmed by the Snowball stemmer of the
// configured language (libstemmer; "none": kept as they are), named by the
// 32-bit MurmurHash3 (x86_32, seed 0) of its UTF-8 bytes: the sparse
// index. Distinct terms that collide count as one (~1 pair in 8,600 of a
// vocabulary of a million).
//
// Thread-safe: stemmers are per thread.
#ifndef TQDB_DB_BM25_H_
#define TQDB_DB_BM25_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "db/db.h"

namespace tqdb {

// InvalidArgument unless k1 is finite and >= 0, b in [0, 1], avg_len finite
// and > 0 and the language a Snowball stemmer's (or "none"); lower-cases
// the language.
absl::Status ValidateBm25Config(Bm25Config* config);

// The Snowball stemmers' languages (libstemmer's list), and "none".
std::vector<std::string> Bm25Languages();

// The terms of `text` in text order, stemmed (repeats included).
std::vector<std::string> Bm25Terms(const Bm25Config& config,
                                   absl::string_view text);

// A term's sparse index: MurmurHash3_x86_32(term, seed 0).
uint32_t Bm25TermIndex(absl::string_view term);

// A document's sparse vector: each distinct term's BM25 weight (above), in
// ascending index order; empty for a text without words.
SparseVector Bm25Document(const Bm25Config& config, absl::string_view text);

// A query's sparse vector: 1 for each distinct term (the IDF of the search
// weighs them), in ascending index order; empty for a text without words.
SparseVector Bm25Query(const Bm25Config& config, absl::string_view text);

// The sparse vector of `p`'s text (Bm25Document) in a collection configured
// by `config`: InvalidArgument saying why (no bm25 settings, a sparse
// vector given too, more than kMaxSparseNonZeros distinct terms).
absl::StatusOr<SparseVector> PointTextVector(const CollectionConfig& config,
                                             const Point& p);

// Turns the texts of `points` into their sparse vectors (Point::text ->
// Point::sparse, the text cleared), for a collection configured by
// `config`: InvalidArgument naming the first point with a text when the
// collection has no bm25 settings, or whose text comes with a sparse
// vector, as Upsert does (db.h: ValidatePoints).
absl::Status ResolvePointTexts(const CollectionConfig& config,
                               std::vector<Point>* points);

}  // namespace tqdb

#endif  // TQDB_DB_BM25_H_
