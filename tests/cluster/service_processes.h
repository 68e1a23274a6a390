// The real services a cluster test needs, as child processes of the test on
// free loopback ports: one etcd member and a NATS cluster with JetStream
// (nats-server), started in a temporary directory and stopped (SIGKILL if
// they do not exit on SIGTERM) when the object dies. Children get SIGKILL if
// the test process dies first (PR_SET_PDEATHSIG): nothing outlives a test.
//
//   auto etcd = EtcdServer::Start(dir + "/etcd");
//   auto nats = NatsCluster::Start(dir + "/nats", 3);
//   ... (*etcd)->endpoint()  "127.0.0.1:PORT"
//   ... (*nats)->urls()      {"nats://127.0.0.1:P0", ...}
//   (*nats)->server(1).Signal(SIGKILL);   // a dead server
//   (*nats)->Restart(1);                  // same ports, same store
#ifndef TQDB_TESTS_CLUSTER_SERVICE_PROCESSES_H_
#define TQDB_TESTS_CLUSTER_SERVICE_PROCESSES_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "rpc/cluster/jetstream.h"
#include "rpc/cluster/nats_connection.h"

namespace tqdb {
namespace testing_util {

// A loopback TCP port free now, below the kernel's ephemeral range (bound
// and released: another process may still take it before the caller does;
// starts retry on a fresh port then).
int FreeLoopbackPort();

// Whether something accepts TCP connections on 127.0.0.1:port.
bool PortAccepts(int port);

// A child process running `argv` with stdout and stderr appended to
// `log_path`.
class ChildProcess {
 public:
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(
      const std::vector<std::string>& argv, const std::string& log_path);
  // SIGKILL if still running, then reaps it.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool Running();
  void Signal(int signal);
  // SIGTERM, up to `grace` for it to exit, then SIGKILL. Reaps it.
  void Stop(absl::Duration grace = absl::Seconds(10));
  // Waits up to `timeout` for it to exit; true if it did (reaped).
  bool WaitExit(absl::Duration timeout);
  // After it exited: its exit code, or -signal if a signal ended it.
  int exit_code() const { return exit_code_; }
  // The last `bytes` of its log, for failure messages.
  std::string LogTail(size_t bytes = 2000) const;

 private:
  ChildProcess(pid_t pid, std::string log_path)
      : pid_(pid), log_path_(std::move(log_path)) {}
  pid_t pid_;
  std::string log_path_;
  bool reaped_ = false;
  int exit_code_ = 0;
  void Reaped(int status);
};

class EtcdServer {
 public:
  // Starts etcd with its data in `dir` and waits until it answers.
  static absl::StatusOr<std::unique_ptr<EtcdServer>> Start(
      const std::string& dir);
  ~EtcdServer();

  // "127.0.0.1:PORT": the client endpoint (EtcdOptions::endpoints).
  std::string endpoint() const;
  int client_port() const { return client_port_; }
  ChildProcess& process() { return *process_; }
  // Stops it (if running) and starts it again on the same ports and data.
  absl::Status Restart();

 private:
  EtcdServer() = default;
  absl::Status Launch();
  std::string dir_;
  int client_port_ = 0;
  int peer_port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

class NatsCluster {
 public:
  // Starts `n` nats-server processes with JetStream, clustered with each
  // other (n >= 2), stores under `dir`, and waits until every one accepts
  // connections and JetStream has a meta leader.
  static absl::StatusOr<std::unique_ptr<NatsCluster>> Start(
      const std::string& dir, int n);
  ~NatsCluster();

  // "nats://127.0.0.1:PORT" of every server.
  std::vector<std::string> urls() const;
  std::string url(int i) const;
  int size() const { return static_cast<int>(servers_.size()); }
  ChildProcess& server(int i) { return *servers_[i].process; }
  // Stops server i (if running) and starts it again on the same ports and
  // store; waits until it accepts connections.
  absl::Status Restart(int i);
  // Waits until JetStream answers through these servers, which takes a
  // meta leader (elected anew after servers restart).
  absl::Status AwaitJetStream(absl::Duration timeout);

 private:
  struct Server {
    std::string name;
    std::string store;
    int client_port = 0;
    int route_port = 0;
    std::unique_ptr<ChildProcess> process;
  };
  NatsCluster() = default;
  // One start on fresh ports; Start retries it.
  static absl::StatusOr<std::unique_ptr<NatsCluster>> TryStart(
      const std::string& dir, int n);
  absl::Status Launch(int i);
  // Waits until server i accepts connections; names `what` (start,
  // restart) and the server's log if it exits or 20 s pass.
  absl::Status AwaitAccepting(int i, absl::string_view what);
  std::string dir_;
  std::vector<Server> servers_;
};

// A NATS cluster with a client of the log on it: a connection to every
// server and its JetStream context. Members are destroyed in reverse order:
// the context before the connection, the connection before the servers.
struct JetStreamCluster {
  // Starts `n` servers under `dir` (NatsCluster::Start) and connects.
  static absl::StatusOr<JetStreamCluster> Start(const std::string& dir, int n);
  // The stream of a collection's log (StreamName, StreamSubjects) with
  // `replicas` copies.
  static cluster::StreamConfig CollectionStream(const std::string& collection,
                                                int replicas);

  std::unique_ptr<NatsCluster> nats;
  std::unique_ptr<cluster::NatsConnection> connection;
  std::unique_ptr<cluster::JetStream> js;
};

}  // namespace testing_util
}  // namespace tqdb

#endif  // TQDB_TESTS_CLUSTER_SERVICE_PROCESSES_H_
