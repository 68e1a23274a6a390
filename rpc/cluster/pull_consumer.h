// A durable JetStream pull consumer with explicit acks: how a tqdb node
// reads a shard's log. The consumer lives in JetStream under its durable
// name (replicated like its stream), so a node that restarts or reconnects
// resumes after the last message it acknowledged; a message fetched but not
// acknowledged within ack_wait is delivered again.
//
//   ConsumerConfig c;
//   c.stream = "tqdb_docs";
//   c.durable = "node3_shard7";
//   c.filter_subject = "tqdb.docs.7";
//   auto consumer = PullConsumer::Create(js, c);
//   auto batch = (*consumer)->Fetch(256, absl::Seconds(1));  // may be empty
//   for (JsMessage& m : *batch) { apply(m.data()); m.Ack(); }
//
// Errors: Unavailable when not connected within the fetch's timeout (the
// connection keeps reconnecting by itself); NotFound for an unknown stream;
// as jetstream.h otherwise. An empty batch is not an error.
//
// Thread-safety: Fetch from one thread at a time; messages may be acked from
// any thread. The JetStream (and its connection) must outlive the consumer
// and its messages.
#ifndef TQDB_RPC_CLUSTER_PULL_CONSUMER_H_
#define TQDB_RPC_CLUSTER_PULL_CONSUMER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "rpc/cluster/jetstream.h"

// libnats' handles, as nats/nats.h declares them.
typedef struct __natsMsg natsMsg;
typedef struct __natsSubscription natsSubscription;

namespace tqdb {
namespace cluster {

struct ConsumerConfig {
  std::string stream;
  std::string durable;         // [A-Za-z0-9_-]+
  std::string filter_subject;  // required: one subject of the stream
  // At creation only: the first stream sequence to deliver (0: the
  // stream's first). An existing durable keeps its position and settings.
  uint64_t start_sequence = 0;
  // A message not acknowledged within this is delivered again.
  absl::Duration ack_wait = absl::Seconds(30);
  // Messages delivered and not yet acknowledged, at most.
  int64_t max_ack_pending = 10000;
  // Acknowledging a message acknowledges every earlier one too (one ack per
  // fetched batch); otherwise each message needs its own.
  bool ack_all = false;
};

// One fetched message; owns libnats' message.
class JsMessage {
 public:
  JsMessage(JsMessage&& other) noexcept;
  JsMessage& operator=(JsMessage&& other) noexcept;
  ~JsMessage();

  absl::string_view subject() const;
  absl::string_view data() const;
  uint64_t stream_sequence() const { return stream_sequence_; }
  // The consumer's count of deliveries, this one included: consecutive
  // within a consumer, so a gap means a delivery was lost on the way.
  uint64_t consumer_sequence() const { return consumer_sequence_; }
  // Deliveries of this message so far, this one included (1: the first).
  uint64_t delivered() const { return delivered_; }
  // The id it was published with ("" if none).
  std::string message_id() const;

  // Acknowledges and waits for JetStream to confirm, so that the consumer
  // will not deliver it again.
  absl::Status Ack(absl::Duration timeout = absl::Seconds(5));
  // Acknowledges without waiting for JetStream's confirmation: cheaper, and
  // enough when a lost ack only means a redelivery the reader recognizes.
  absl::Status AckNoWait();
  // Asks for redelivery now.
  absl::Status Nak();

 private:
  friend class PullConsumer;
  explicit JsMessage(natsMsg* message);
  natsMsg* message_ = nullptr;
  uint64_t stream_sequence_ = 0;
  uint64_t consumer_sequence_ = 0;
  uint64_t delivered_ = 0;
};

struct ConsumerState {
  uint64_t delivered_sequence = 0;  // last stream sequence delivered
  // Every stream sequence up to it is acknowledged (or not the consumer's:
  // with a filter it may pass the last acknowledged message's sequence).
  uint64_t ack_floor = 0;
  uint64_t pending = 0;     // messages not delivered yet
  int64_t ack_pending = 0;  // delivered, not acked yet
  int64_t redelivered = 0;
};

class PullConsumer {
 public:
  // Creates the durable consumer unless it exists, and binds to it.
  static absl::StatusOr<std::unique_ptr<PullConsumer>> Create(
      JetStream* js, const ConsumerConfig& config);
  // The state of a durable consumer, nullopt if it does not exist. wait:
  // how long to wait for JetStream's answer (zero: the connection's API
  // timeout).
  static absl::StatusOr<std::optional<ConsumerState>> Lookup(
      JetStream* js, const std::string& stream, const std::string& durable,
      absl::Duration wait = absl::ZeroDuration());
  // Deletes a durable consumer; OK if it does not exist.
  static absl::Status Delete(JetStream* js, const std::string& stream,
                             const std::string& durable);
  ~PullConsumer();
  PullConsumer(const PullConsumer&) = delete;
  PullConsumer& operator=(const PullConsumer&) = delete;

  // Up to `batch` messages, in stream order, waiting up to `timeout` for
  // them (it may return fewer sooner); empty if none came.
  absl::StatusOr<std::vector<JsMessage>> Fetch(int batch,
                                               absl::Duration timeout);
  absl::StatusOr<ConsumerState> State();

 private:
  PullConsumer(JetStream* js, const ConsumerConfig& config,
               natsSubscription* subscription);

  JetStream* const js_;
  const ConsumerConfig config_;
  natsSubscription* const subscription_;
};

}  // namespace cluster
}  // namespace tqdb

#endif  // TQDB_RPC_CLUSTER_PULL_CONSUMER_H_
