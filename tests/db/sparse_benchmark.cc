// The sparse vectors' inverted index (db/sparse_index.h) on text-like data
// (Google Benchmark): TQDB_BENCH_POINTS documents (default 100,000) of 40
// term occurrences each drawn from a Zipf(1) vocabulary of 50,000 terms
// (the shape of word counts in text; weights their term frequencies), the
// query terms drawn the same way, so that common terms (long posting
// lists) come up as often as in text.
//
//  - BM_SparseSearch/<query terms>: an exact top-10 by dot product, one
//    query a call (items: queries; postings/query: the postings read).
//  - BM_SparseIdfStats: the term statistics an IDF query reads first.
//  - BM_SparseSet: indexing 1,000 documents a call (items: documents).
//  - BM_Bm25Document/<words>: a text's BM25 sparse vector (db/bm25.h:
//    words, Snowball english stems, hashes, weights), the work an upsert
//    of a text adds (items: texts); words drawn as the terms above from a
//    vocabulary of English-like inflected words.
//
//   sparse_benchmark --benchmark_filter=Search
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "db/bm25.h"
#include "db/sparse_index.h"
#include "quant/random.h"

namespace tqdb {
namespace {

constexpr uint32_t kVocabulary = 50000;
constexpr int kTermsPerDocument = 40;

size_t Points() {
  const char* e = std::getenv("TQDB_BENCH_POINTS");
  return e ? std::strtoull(e, nullptr, 10) : 100000;
}

// A Zipf(1) term: P(t) proportional to 1 / (t + 1).
uint32_t DrawTerm(Rng* rng) {
  static const std::vector<double>* cdf = [] {
    auto* c = new std::vector<double>(kVocabulary);
    double s = 0;
    for (uint32_t t = 0; t < kVocabulary; ++t) (*c)[t] = s += 1.0 / (t + 1);
    for (double& v : *c) v /= s;
    return c;
  }();
  const double u = rng->Uniform(1u << 30) / double(1u << 30);
  return static_cast<uint32_t>(std::min<size_t>(
      std::lower_bound(cdf->begin(), cdf->end(), u) - cdf->begin(),
      kVocabulary - 1));
}

// A document or query of `occurrences` term draws: its distinct terms,
// each weighted by its count.
SparseVector Draw(Rng* rng, int occurrences) {
  std::map<uint32_t, float> tf;
  for (int i = 0; i < occurrences; ++i) tf[DrawTerm(rng)] += 1.0f;
  SparseVector v;
  for (const auto& [t, w] : tf) {
    v.indices.push_back(t);
    v.values.push_back(w);
  }
  return v;
}

void Fill(SparseIndex* index, uint64_t first, size_t n, Rng* rng) {
  std::vector<uint64_t> ids;
  std::vector<SparseVector> docs;
  for (size_t i = 0; i < n; ++i) {
    ids.push_back(first + i);
    docs.push_back(Draw(rng, kTermsPerDocument));
  }
  std::vector<const SparseVector*> ptrs;
  for (const SparseVector& d : docs) ptrs.push_back(&d);
  index->Set(ids, ptrs);
}

const SparseIndex& Index() {
  static const SparseIndex* index = [] {
    auto* idx = new SparseIndex;
    Rng rng(11);
    const size_t n = Points();
    for (size_t at = 0; at < n; at += 10000) {
      Fill(idx, at, std::min<size_t>(10000, n - at), &rng);
    }
    return idx;
  }();
  return *index;
}

void BM_SparseSearch(benchmark::State& state) {
  const SparseIndex& index = Index();
  Rng rng(5);
  std::vector<SparseVector> queries;
  for (int i = 0; i < 256; ++i) {
    queries.push_back(Draw(&rng, static_cast<int>(state.range(0))));
  }
  std::vector<Neighbor> out;
  size_t q = 0;
  uint64_t scored = 0, postings = 0;
  for (auto _ : state) {
    uint64_t s = 0;
    const SparseVector& query = queries[q++ % queries.size()];
    if (!index.Search(query, 10, nullptr, nullptr, &out, &s).ok()) {
      state.SkipWithError("search failed");
      return;
    }
    benchmark::DoNotOptimize(out.data());
    scored += s;
    const SparseTermStats st = index.Stats(query.indices);
    for (uint64_t h : st.holding) postings += h;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["points"] = static_cast<double>(index.points());
  state.counters["scored/query"] =
      static_cast<double>(scored) / static_cast<double>(state.iterations());
  state.counters["postings/query"] =
      static_cast<double>(postings) / static_cast<double>(state.iterations());
  state.counters["memory B/point"] = static_cast<double>(index.memory_bytes()) /
                                     static_cast<double>(index.points());
}
BENCHMARK(BM_SparseSearch)
    ->Arg(3)
    ->Arg(6)
    ->Arg(12)
    ->Unit(benchmark::kMicrosecond);

void BM_SparseIdfStats(benchmark::State& state) {
  const SparseIndex& index = Index();
  Rng rng(6);
  const SparseVector query = Draw(&rng, 6);
  for (auto _ : state) {
    benchmark::DoNotOptimize(index.Stats(query.indices));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SparseIdfStats);

void BM_SparseSet(benchmark::State& state) {
  Rng rng(9);
  SparseIndex index;
  uint64_t next = 0;
  for (auto _ : state) {
    Fill(&index, next, 1000, &rng);
    next += 1000;
  }
  state.SetItemsProcessed(static_cast<int64_t>(next));
}
BENCHMARK(BM_SparseSet)->Unit(benchmark::kMillisecond);

// A text of `words` words: Zipf(1) draws from 50,000 English-like words
// (a stem of 2-4 syllables and one of nine endings the stemmer strips or
// keeps), every twelfth followed by punctuation, some capitalized.
std::string DrawText(Rng* rng, int words) {
  static const char* const kSyllables[] = {"ka", "ter", "mon", "ra", "li",
                                          "son", "dal", "ve",  "pri", "sto",
                                          "gen", "ul",  "ben", "cor", "ma"};
  static const char* const kEndings[] = {"",    "s",  "ing", "ed", "ation",
                                        "ness", "ly", "er",  "ies"};
  std::string text;
  for (int i = 0; i < words; ++i) {
    uint32_t t = DrawTerm(rng);
    std::string w;
    for (int k = 0, n = 2 + static_cast<int>(t % 3); k < n; ++k) {
      w += kSyllables[(t / 9 + k * 7) % 15];
      t /= 3;
    }
    w += kEndings[DrawTerm(rng) % 9];
    if (i % 17 == 0) w[0] = static_cast<char>(w[0] - 'a' + 'A');
    text += w;
    text += i % 12 == 11 ? ", " : " ";
  }
  return text;
}

void BM_Bm25Document(benchmark::State& state) {
  Rng rng(12);
  std::vector<std::string> texts;
  for (int i = 0; i < 256; ++i) {
    texts.push_back(DrawText(&rng, static_cast<int>(state.range(0))));
  }
  const Bm25Config config;  // english
  size_t i = 0, terms = 0;
  for (auto _ : state) {
    const SparseVector v = Bm25Document(config, texts[i++ % texts.size()]);
    terms += v.indices.size();
    benchmark::DoNotOptimize(v.values.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["s/word"] = benchmark::Counter(
      static_cast<double>(state.iterations() * state.range(0)),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["terms/text"] =
      static_cast<double>(terms) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Bm25Document)->Arg(8)->Arg(100)->Arg(1000);

}  // namespace
}  // namespace tqdb

BENCHMARK_MAIN();
