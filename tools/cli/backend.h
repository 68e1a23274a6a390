// Where the CLI's commands go: a running tqdb server (gRPC) or a data
// directory opened in process (embedded, no server). Both speak db/ types so
// that `tqdb ingest|search|collections` work the same either way.
//
// Errors: absl::Status with the server's code and message (remote) or the
// database's (embedded); an unreachable server is Unavailable naming the
// address. Not thread-safe: one command uses one Backend from one thread.
#ifndef TQDB_TOOLS_CLI_BACKEND_H_
#define TQDB_TOOLS_CLI_BACKEND_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "db/db.h"
#include "db/formula.h"
#include "db/fusion.h"
#include "tools/cli/server_channel.h"

namespace tqdb {

// A sparse query (tqdb search --sparse): alone, or with the dense query
// a hybrid search fused as SearchRequest.fusion says (rpc/hybrid_search.h).
struct SparseSearch {
  SparseVector vector;
  std::string text;  // instead of `vector`: SearchRequest.text (BM25)
  bool idf = false;  // SearchRequest.sparse_idf
  Fusion fusion = Fusion::kRrf;
  std::optional<double> rrf_k;
  uint32_t prefetch_limit = 0;  // 0 = options.k
};

// A formula rescoring a search's best points (tqdb search --formula;
// SearchRequest.formula, rpc/formula_search.h).
struct FormulaSearch {
  Formula formula;
  uint32_t prefetch_limit = 0;  // how many it rescores; 0 = options.k
};

struct Hit {
  uint64_t id = 0;
  float score = 0;
  std::string payload;  // when asked for
};

// A group of a grouped search: the value its hits share (a string, or an
// integer in decimal), best hit first.
struct HitGroup {
  std::string value;
  std::vector<Hit> hits;
};

// Sends batches of one ingest. Each Send is one all-or-nothing batch.
// Remote: the batches go over one UpsertStream, and are committed as they
// arrive; Finish() returns how many points the server stored (so after an
// error the caller knows exactly what is in). Embedded: each Send commits.
class Ingest {
 public:
  virtual ~Ingest() = default;
  virtual absl::Status Send(std::vector<Point> batch) = 0;
  // Ends the ingest; returns the points stored by it. Call once.
  virtual absl::StatusOr<uint64_t> Finish() = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // A server, connected by ConnectServer (server_channel.h: the API key,
  // TLS, and the check that it answers).
  static std::unique_ptr<Backend> Remote(ServerChannel server);
  // The database in `dir` (created when create_if_missing).
  static absl::StatusOr<std::unique_ptr<Backend>> Embedded(
      const std::string& dir, bool create_if_missing);

  virtual absl::StatusOr<CollectionInfo> Create(
      const CollectionConfig& config) = 0;
  virtual absl::StatusOr<CollectionInfo> Info(const std::string& name) = 0;
  virtual absl::StatusOr<std::vector<CollectionInfo>> List() = 0;
  virtual absl::Status Drop(const std::string& name) = 0;
  // Trains now (blocking) if untrained; with `if_outgrown`, also rebuilds
  // the centroids of a trained collection whose info recommends it (grown
  // past its training, or imbalanced lists). Embedded: first waits for a
  // background training.
  virtual absl::StatusOr<CollectionInfo> Train(const std::string& name,
                                               bool if_outgrown) = 0;
  virtual absl::StatusOr<std::unique_ptr<Ingest>> StartIngest(
      const std::string& collection, bool wait) = 0;
  // options.filter: only matching points. info (optional): the plan and
  // the nprobe it used. sparse (optional): a sparse or hybrid search (query
  // empty: sparse alone). formula (optional): the best options.k by it.
  virtual absl::StatusOr<std::vector<Hit>> Search(
      const std::string& collection, absl::Span<const float> query,
      const QueryOptions& options, bool with_payload, SearchInfo* info,
      const SparseSearch* sparse, const FormulaSearch* formula) = 0;
  // Search groups (SearchRequest.group_by, rpc/search_groups.h): the best
  // options.k groups of points sharing a value at the payload key
  // `group_by`, each with its best `group_size` hits (payloads included).
  // sparse, formula (optional): as Search's.
  virtual absl::StatusOr<std::vector<HitGroup>> SearchGroups(
      const std::string& collection, absl::Span<const float> query,
      const QueryOptions& options, const std::string& group_by,
      uint32_t group_size, const SparseSearch* sparse,
      const FormulaSearch* formula) = 0;
  // Points matching `filter` (all points when nullptr).
  virtual absl::StatusOr<CountResult> Count(
      const std::string& collection,
      const std::shared_ptr<const Filter>& filter) = 0;
  // Facet counts (Collection::Facet, db/db.h).
  virtual absl::StatusOr<FacetResult> Facet(const std::string& collection,
                                            const FacetOptions& options) = 0;
  // A page of points in id order (ScrollOptions, db/db.h).
  virtual absl::StatusOr<ScrollPage> Scroll(const std::string& collection,
                                            const ScrollOptions& options) = 0;
  // A payload index on `field`, built before it returns.
  virtual absl::StatusOr<FieldIndexInfo> CreateFieldIndex(
      const std::string& collection, const std::string& field,
      FieldType type) = 0;
  virtual absl::Status DeleteFieldIndex(const std::string& collection,
                                        const std::string& field) = 0;
  // Database::UpdateAliases / ListAliases (db/db.h).
  virtual absl::Status UpdateAliases(
      const std::vector<AliasChange>& changes) = 0;
  virtual absl::StatusOr<std::map<std::string, std::string>> ListAliases() = 0;
  // Flushes and closes (embedded); idempotent.
  virtual absl::Status Close() = 0;
  // "server ADDR" or "data DIR", for messages.
  virtual std::string Describe() const = 0;
};

}  // namespace tqdb

#endif  // TQDB_TOOLS_CLI_BACKEND_H_
