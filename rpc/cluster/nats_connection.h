// A connection to a NATS cluster (libnats, the C client) that reconnects by
// itself: the foundation of jetstream.h and pull_consumer.h.
//
//   NatsOptions o;
//   o.servers = {"nats://127.0.0.1:4222", "nats://127.0.0.1:4223"};
//   auto nats = NatsConnection::Connect(o);  // Unavailable names the servers
//   auto js = JetStream::Create(nats->get());
//
// Connect tries the servers (libnats shuffles them) and fails with
// Unavailable, naming every server, when none answers. Once connected, a
// lost connection is re-established in the background for as long as the
// object lives, to any server given or announced by the cluster (round
// after round, reconnect_wait apart); meanwhile connected() is false and
// JetStream calls wait for the connection up to their own timeouts, then
// fail with Unavailable. The server is pinged every ping_interval; two
// unanswered pings (a hung server) count as a lost connection.
//
// Thread-safety: every method may be called from any thread. Objects made
// from the connection (JetStream, PullConsumer) must be destroyed before it.
#ifndef TQDB_RPC_CLUSTER_NATS_CONNECTION_H_
#define TQDB_RPC_CLUSTER_NATS_CONNECTION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

// libnats' handle (nats/nats.h), declared as that header does, so that this
// header does not pull the C API into every user.
typedef struct __natsConnection natsConnection;

namespace tqdb {
namespace cluster {

struct NatsOptions {
  // nats://host:port ("nats://" is added when missing).
  std::vector<std::string> servers;
  // Shown by the servers' monitoring (connz) and in their logs.
  std::string name = "tqdb";
  // Per attempt to reach one server, at Connect and when reconnecting.
  absl::Duration connect_timeout = absl::Seconds(2);
  // Between two rounds of reconnection attempts.
  absl::Duration reconnect_wait = absl::Milliseconds(250);
  absl::Duration ping_interval = absl::Seconds(2);
  // JetStream API requests (streams, consumers, acks).
  absl::Duration api_timeout = absl::Seconds(5);
};

class NatsConnection {
 public:
  static absl::StatusOr<std::unique_ptr<NatsConnection>> Connect(
      const NatsOptions& options);
  // Closes the connection and waits (up to 10 s) for libnats to be done
  // with it.
  ~NatsConnection();
  NatsConnection(const NatsConnection&) = delete;
  NatsConnection& operator=(const NatsConnection&) = delete;

  bool connected() const;
  // OK once connected; Unavailable naming the servers if not connected
  // within `timeout`.
  absl::Status AwaitConnected(absl::Duration timeout);
  // The server connected to ("" while disconnected).
  std::string connected_url() const;
  // The largest message the connected server takes (its max_payload).
  int64_t max_payload() const;
  // Times the connection was re-established after a loss.
  int reconnects() const;
  const NatsOptions& options() const { return options_; }
  // "nats://a:1, nats://b:2": the servers given, for messages.
  std::string ServerList() const;

  // For jetstream.cc and pull_consumer.cc.
  natsConnection* raw() const { return connection_; }

 private:
  struct State;  // shared with libnats' callbacks (nats_connection.cc)
  NatsConnection(const NatsOptions& options, std::unique_ptr<State> state);

  const NatsOptions options_;
  std::unique_ptr<State> state_;
  natsConnection* connection_ = nullptr;
};

}  // namespace cluster
}  // namespace tqdb

#endif  // TQDB_RPC_CLUSTER_NATS_CONNECTION_H_
