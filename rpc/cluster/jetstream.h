// NATS JetStream as tqdb's write-ahead log: streams (Raft-replicated across
// the NATS cluster) and publishing with a message id, acknowledged once the
// stream stored the message on a quorum of its replicas. Consumers are in
// pull_consumer.h, names of streams and subjects in log_names.h.
//
//   auto js = JetStream::Create(nats);
//   StreamConfig c;
//   c.name = "tqdb_docs";
//   c.subjects = {"tqdb.docs.*"};
//   js->EnsureStream(c);
//   auto ack = js->Publish("tqdb.docs.3", bytes, "req-17/0",
//   absl::Seconds(10)); ack->sequence  // the message's place in the stream
//
// Publish is exactly-once per message id within the stream's duplicate
// window: it retries (same id) on a lost connection, a missing PubAck or a
// stream without a leader (during a failover) until its timeout, and a
// retry of a message already stored answers with the first sequence and
// `duplicate` set. A Publish that fails may still have been stored; publish
// it again with the same id to know.
//
// Errors: Unavailable when no server can be reached within the timeout, or
// no PubAck came (the stream has no quorum, or no stream takes the subject);
// NotFound for an unknown stream; AlreadyExists from EnsureStream for a
// stream of that name whose settings cannot be changed to these;
// FailedPrecondition for other refusals by JetStream (its text included).
//
// Thread-safety: every method may be called from any thread. The
// NatsConnection must outlive this object.
#ifndef TQDB_RPC_CLUSTER_JETSTREAM_H_
#define TQDB_RPC_CLUSTER_JETSTREAM_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "rpc/cluster/nats_connection.h"

typedef struct __jsCtx jsCtx;  // libnats' handle, as nats/nats.h declares it

namespace tqdb {
namespace cluster {

struct StreamConfig {
  std::string name;                   // [A-Za-z0-9_-]+
  std::vector<std::string> subjects;  // may end in ".*" or ".>"
  // Servers holding a copy: 3 survives the loss of one (1 or 3; 5 for two).
  int replicas = 3;
  // Publishes with a message id seen within this window are duplicates.
  absl::Duration duplicate_window = absl::Minutes(2);
  // Retention limits (messages beyond them are dropped, oldest first);
  // -1 / zero: none.
  int64_t max_bytes = -1;
  int64_t max_messages = -1;
  absl::Duration max_age = absl::ZeroDuration();
  bool memory_storage = false;  // default: files
};

struct StreamState {
  uint64_t messages = 0;
  uint64_t bytes = 0;
  uint64_t first_sequence = 0;
  uint64_t last_sequence = 0;
  int replicas = 0;
  std::string leader;  // server name of the stream's leader
  // The other replicas' server names, offline ones included.
  std::vector<std::string> followers;
  // Those of them online and caught up with the leader (JetStream's
  // "current").
  std::vector<std::string> current_followers;
};

struct PubAck {
  uint64_t sequence = 0;   // the message's sequence in the stream
  bool duplicate = false;  // already stored (sequence is the first copy's)
};

class JetStream {
 public:
  static absl::StatusOr<std::unique_ptr<JetStream>> Create(
      NatsConnection* connection);
  ~JetStream();
  JetStream(const JetStream&) = delete;
  JetStream& operator=(const JetStream&) = delete;

  // Creates the stream, or updates it to `config` if it exists (JetStream
  // refuses some changes, e.g. storage type: AlreadyExists). While the
  // cluster forms (no meta leader, or fewer servers than replicas known to
  // it) it retries for `placement_timeout`, then answers Unavailable.
  absl::Status EnsureStream(
      const StreamConfig& config,
      absl::Duration placement_timeout = absl::Seconds(20));
  absl::StatusOr<StreamState> GetStreamState(const std::string& stream);
  absl::Status DeleteStream(const std::string& stream);
  // The sequence of the last message stored on `subject` (0 if none).
  absl::StatusOr<uint64_t> LastSequence(const std::string& stream,
                                        const std::string& subject);

  // OK once JetStream answers account requests (in a cluster: once it has
  // a meta leader); Unavailable with the last error after `timeout`.
  absl::Status AwaitReady(absl::Duration timeout);

  // Publishes `data` on `subject` and waits for the stream's PubAck, up to
  // `timeout` in all (retries included; each wait for a PubAck is at most
  // `attempt_timeout`).
  absl::StatusOr<PubAck> Publish(
      const std::string& subject, absl::string_view data,
      const std::string& message_id, absl::Duration timeout,
      absl::Duration attempt_timeout = absl::Seconds(2));

  NatsConnection* connection() const { return connection_; }
  jsCtx* raw() const { return context_; }  // for pull_consumer.cc

 private:
  JetStream(NatsConnection* connection, jsCtx* context);

  NatsConnection* const connection_;
  jsCtx* const context_;
};

}  // namespace cluster
}  // namespace tqdb

#endif  // TQDB_RPC_CLUSTER_JETSTREAM_H_
