// A small typed client of etcd's v3 API over gRPC, with stubs generated from
// etcd's own .proto files (proto/etcd/): KV Range/Put/DeleteRange, Txn
// (compare-and-swap on a key's revision), Lease Grant/Revoke/KeepAlive.
// Watches are in etcd_watch.h, leases kept alive in the background in
// lease_keeper.h, leader election in leader_election.h.
//
//   EtcdOptions o;
//   o.endpoints = {"127.0.0.1:2379"};
//   auto etcd = EtcdClient::Connect(o);  // Unavailable names the address
//   auto kv = (*etcd)->Get("tqdb/map/docs");  // std::nullopt if absent
//   auto cas = (*etcd)->CompareAndSwap("tqdb/map/docs", "new",
//                                      (*kv)->mod_revision);
//   if (!cas->swapped) { ... cas->current is what another writer put ... }
//
// Errors: the gRPC status of the call with its code, and "etcd at ADDRESS:
// <operation> <key>: " in front of its message: Unavailable when etcd cannot
// be reached, DeadlineExceeded when it does not answer within
// EtcdOptions::timeout (every call has that deadline: nothing hangs),
// NotFound for a lease that expired or was revoked, OutOfRange for a
// compacted revision. A Txn whose comparisons fail is not an error
// (TxnResult::succeeded is false).
//
// Endpoints: calls go to one endpoint; after Unavailable the client moves to
// the next. Reads are retried at once on the other endpoints; writes are not
// (one that reached etcd before the connection broke may have been applied:
// the caller decides, for example with a CompareAndSwap whose failure shows
// the current value).
//
// Thread-safety: every method may be called concurrently.
#ifndef TQDB_RPC_CLUSTER_ETCD_CLIENT_H_
#define TQDB_RPC_CLUSTER_ETCD_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace tqdb {
namespace cluster {

struct EtcdOptions {
  // host:port of each etcd member (client URLs without "http://").
  std::vector<std::string> endpoints;
  // Deadline of every unary call (and of opening a watch).
  absl::Duration timeout = absl::Seconds(5);
};

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;  // revision that created the key
  int64_t mod_revision = 0;     // revision of its last change
  int64_t version = 0;          // changes since creation (1 = just created)
  int64_t lease = 0;            // 0 = none
};

struct RangeResult {
  std::vector<KeyValue> kvs;  // in key order
  int64_t revision = 0;       // the store's revision when read
  int64_t count = 0;          // keys in the range (more than kvs if limited)
  bool more = false;          // the limit cut the answer
};

// One condition of a Txn's guard. A key that does not exist has version,
// create_revision, mod_revision and lease 0.
struct Compare {
  enum class Target { kVersion, kCreateRevision, kModRevision, kValue, kLease };
  enum class Op { kEqual, kNotEqual, kGreater, kLess };
  std::string key;
  Target target = Target::kModRevision;
  Op op = Op::kEqual;
  int64_t number = 0;  // for every target but kValue
  std::string value;   // for kValue

  static Compare ModRevision(std::string key, Op op, int64_t revision);
  static Compare CreateRevision(std::string key, Op op, int64_t revision);
  static Compare Version(std::string key, Op op, int64_t version);
  static Compare Value(std::string key, Op op, std::string value);
  static Compare LeaseId(std::string key, Op op, int64_t lease);
};

// One operation of a Txn branch.
struct TxnOp {
  enum class Type { kGet, kPut, kDelete };
  Type type = Type::kGet;
  std::string key;
  bool prefix = false;  // kGet, kDelete: every key starting with `key`
  std::string value;    // kPut
  int64_t lease = 0;    // kPut

  static TxnOp Get(std::string key, bool prefix = false);
  static TxnOp Put(std::string key, std::string value, int64_t lease = 0);
  static TxnOp Delete(std::string key, bool prefix = false);
};

struct TxnOpResult {
  std::vector<KeyValue> kvs;  // kGet
  int64_t deleted = 0;        // kDelete
};

struct TxnResult {
  bool succeeded = false;            // the guard held: `success` ran
  int64_t revision = 0;              // the store's revision after the Txn
  std::vector<TxnOpResult> results;  // one per op of the branch that ran
};

struct CasResult {
  bool swapped = false;
  // After a swap: the revision of the write. Otherwise the store's revision.
  int64_t revision = 0;
  // When not swapped: the key as it is now (nullopt: it does not exist).
  std::optional<KeyValue> current;
};

struct Lease {
  int64_t id = 0;
  absl::Duration ttl;  // as granted by etcd (it raises TTLs to its minimum)
};

struct EtcdEndpoint;  // etcd_endpoint.h: one endpoint's channel and stubs

class EtcdClient {
 public:
  // Opens a channel per endpoint and asks the first that answers for its
  // status, each endpoint in turn waiting for a connection for its share of
  // the timeout. InvalidArgument for no endpoints; Unavailable naming the
  // addresses when none answers within the timeout.
  static absl::StatusOr<std::unique_ptr<EtcdClient>> Connect(
      const EtcdOptions& options);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // etcd's version, e.g. "3.4.23", as reported at Connect.
  const std::string& server_version() const { return server_version_; }
  const EtcdOptions& options() const { return options_; }

  // KV. Get: nullopt when the key does not exist. limit 0: no limit.
  absl::StatusOr<std::optional<KeyValue>> Get(absl::string_view key);
  absl::StatusOr<RangeResult> GetPrefix(absl::string_view prefix,
                                        int64_t limit = 0);
  // Returns the revision of the write.
  absl::StatusOr<int64_t> Put(absl::string_view key, absl::string_view value,
                              int64_t lease = 0);
  // Returns the number of keys deleted.
  absl::StatusOr<int64_t> Delete(absl::string_view key);
  absl::StatusOr<int64_t> DeletePrefix(absl::string_view prefix);

  // Runs `success` if every comparison holds, else `failure`, atomically.
  absl::StatusOr<TxnResult> Txn(absl::Span<const Compare> compare,
                                absl::Span<const TxnOp> success,
                                absl::Span<const TxnOp> failure);
  // Writes `value` if the key's mod_revision is `expected_mod_revision`
  // (0: only if the key does not exist); else reports the current value.
  absl::StatusOr<CasResult> CompareAndSwap(absl::string_view key,
                                           absl::string_view value,
                                           int64_t expected_mod_revision,
                                           int64_t lease = 0);
  // Deletes the key if its mod_revision is `expected_mod_revision`.
  absl::StatusOr<CasResult> CompareAndDelete(absl::string_view key,
                                             int64_t expected_mod_revision);

  // Leases. `ttl` is rounded up to whole seconds.
  absl::StatusOr<Lease> GrantLease(absl::Duration ttl);
  // Revoking deletes every key attached to the lease.
  absl::Status RevokeLease(int64_t id);
  // One keep-alive: returns the lease's TTL from now; NotFound once it
  // expired or was revoked. `timeout` 0: EtcdOptions::timeout.
  absl::StatusOr<absl::Duration> KeepAliveOnce(
      int64_t id, absl::Duration timeout = absl::ZeroDuration());
  // Remaining TTL without refreshing; NotFound once expired or revoked.
  absl::StatusOr<absl::Duration> TimeToLive(int64_t id);

  // For the streaming classes (etcd_watch.cc, leader_election.cc): the
  // endpoint calls go to now, and the report that one was unreachable
  // (moves to the next).
  size_t current_endpoint() const;
  const EtcdEndpoint& endpoint(size_t i) const { return *endpoints_[i]; }
  void MarkUnavailable(size_t i);
  // "a, b, c": every endpoint, for messages.
  std::string AllAddresses() const;

 private:
  explicit EtcdClient(const EtcdOptions& options);

  // Runs `call(endpoint, context)` with the deadline on the current
  // endpoint; after Unavailable, moves on and (idempotent calls only) tries
  // each other endpoint once. Errors carry "etcd at ADDRESS: what".
  template <typename Call>
  absl::Status Run(absl::string_view what, bool idempotent, Call call);

  const EtcdOptions options_;
  std::vector<std::unique_ptr<EtcdEndpoint>> endpoints_;
  std::string server_version_;
  mutable absl::Mutex mu_;
  size_t current_ ABSL_GUARDED_BY(mu_) = 0;
};

// The end of the range of keys starting with `prefix` (etcd's range_end):
// the prefix with its last byte below 0xff incremented; "\0" (every key from
// the prefix on) when there is none.
std::string PrefixRangeEnd(absl::string_view prefix);

}  // namespace cluster
}  // namespace tqdb

#endif  // TQDB_RPC_CLUSTER_ETCD_CLIENT_H_
