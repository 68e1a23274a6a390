// A watch on an etcd key or prefix that survives etcd restarts and lost
// connections: a background thread holds etcd's Watch stream and, when it
// breaks, opens a new one from the revision after the last event delivered,
// so that every change is delivered once, in revision order.
//
//   WatchOptions o;
//   o.key = "tqdb/nodes/";
//   o.prefix = true;
//   auto watch = EtcdWatch::Start(etcd, o);  // returns once etcd confirmed
//   for (;;) {
//     auto events = (*watch)->Next(absl::Seconds(1));  // empty: none yet
//     if (!events.ok()) ...  // OutOfRange: history compacted, re-read
//     for (const WatchEvent& e : *events) ...
//   }
//
// Errors: Start fails (Unavailable, DeadlineExceeded, naming the address)
// when the first stream cannot be opened within EtcdOptions::timeout.
// Afterwards a broken stream is reopened with a backoff (0.1 s doubling to
// 2 s) for as long as the watch lives; Next reports only what cannot be
// recovered, once the events before it are drained: OutOfRange when etcd
// compacted the revision to resume from (re-read the keys, then start a new
// watch at the read's revision + 1), FailedPrecondition when etcd cancelled
// the watch for another reason.
//
// Thread-safety: Next may be called from one thread at a time; the other
// methods from any thread. The EtcdClient must outlive the watch.
#ifndef TQDB_RPC_CLUSTER_ETCD_WATCH_H_
#define TQDB_RPC_CLUSTER_ETCD_WATCH_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "rpc/cluster/etcd_client.h"

namespace grpc {
class ClientContext;
}  // namespace grpc

namespace tqdb {
namespace cluster {

struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  // The key after a put. After a delete (or a lease's expiry): the key, and
  // mod_revision the revision of the deletion.
  KeyValue kv;
};

struct WatchOptions {
  std::string key;
  bool prefix = false;  // every key starting with `key`
  // First revision to deliver (history included, unless compacted);
  // 0: the changes after Start returns.
  int64_t start_revision = 0;
};

class EtcdWatch {
 public:
  static absl::StatusOr<std::unique_ptr<EtcdWatch>> Start(
      EtcdClient* client, const WatchOptions& options);
  // Stops the stream and the thread.
  ~EtcdWatch();
  EtcdWatch(const EtcdWatch&) = delete;
  EtcdWatch& operator=(const EtcdWatch&) = delete;

  // The events queued, waiting up to `timeout` for at least one; empty when
  // none came. After a terminal error (see above), that error.
  absl::StatusOr<std::vector<WatchEvent>> Next(absl::Duration timeout);

  // The revision the watch resumes from after a break: one past the last
  // event (or progress notification) received.
  int64_t next_revision() const;
  // Streams reopened after a break.
  int reconnects() const;
  // A stream is open and confirmed by etcd.
  bool connected() const;

 private:
  EtcdWatch(EtcdClient* client, const WatchOptions& options);
  void Run();
  // Opens one stream and reads it until it breaks; returns why.
  absl::Status Stream();
  bool HasNews() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool StartedOrFailed() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  EtcdClient* const client_;
  const WatchOptions options_;
  std::thread thread_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;  // first stream confirmed
  absl::Status start_error_ ABSL_GUARDED_BY(mu_);
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  int reconnects_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t next_revision_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<WatchEvent> queue_ ABSL_GUARDED_BY(mu_);
  absl::Status terminal_ ABSL_GUARDED_BY(mu_);
  // The open stream's context, for cancelling it from the destructor.
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace cluster
}  // namespace tqdb

#endif  // TQDB_RPC_CLUSTER_ETCD_WATCH_H_
