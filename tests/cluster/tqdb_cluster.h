// A whole tqdb cluster for a test: one etcd, a NATS JetStream cluster and
// `tqdb serve --cluster` processes (the real binary), on free loopback
// ports in a temporary directory, stopped when the object dies.
//
//   auto c = TqdbCluster::Start(dir, /*nodes=*/3);
//   auto points = (*c)->Points(0);        // tqdb.v1.Points stub of node 1
//   (*c)->node(1).Signal(SIGKILL);        // node 2 dies
//   (*c)->RestartNode(1);                 // same id and data
#ifndef TQDB_TESTS_CLUSTER_TQDB_CLUSTER_H_
#define TQDB_TESTS_CLUSTER_TQDB_CLUSTER_H_

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/cluster/cluster_test_util.h"
#include "tests/cluster/service_processes.h"
#include "tqdb/cluster/v1/cluster.grpc.pb.h"
#include "tqdb/v1/collections.grpc.pb.h"
#include "tqdb/v1/points.grpc.pb.h"
#include "tqdb/v1/snapshots.grpc.pb.h"

namespace tqdb {
namespace testing_util {

struct TqdbClusterOptions {
  int nodes = 3;
  int nats_servers = 3;
  int stream_replicas = 3;
  // Nodes started by Start (the rest later with StartNode); -1 = all.
  int initial_nodes = -1;
  // tqdb serve flags added to every node's (e.g. {"--write-timeout", "3"}).
  std::vector<std::string> extra_flags;
};

class TqdbCluster {
 public:
  static absl::StatusOr<std::unique_ptr<TqdbCluster>> Start(
      const std::string& dir, const TqdbClusterOptions& options);
  ~TqdbCluster();

  int size() const { return static_cast<int>(nodes_.size()); }
  // Node i (0-based) has --node-id i + 1.
  std::string address(int i) const;
  ChildProcess& node(int i) { return *nodes_[i].process; }
  std::string data_dir(int i) const { return nodes_[i].dir + "/data"; }
  EtcdServer& etcd() { return *etcd_; }
  NatsCluster& nats() { return *nats_; }

  std::unique_ptr<v1::Collections::Stub> Collections(int i) const;
  std::unique_ptr<v1::Points::Stub> Points(int i) const;
  std::unique_ptr<tqdb::cluster::v1::Node::Stub> NodeStub(int i) const;

  // SIGTERM and wait (SIGKILL after 30 s).
  void StopNode(int i);
  // Starts node i again (after it stopped or was killed) and waits until
  // it serves: same id and data, and its port unless another process took
  // it meanwhile (address(i) says where it is).
  absl::Status RestartNode(int i);
  // Starts node i (not started yet, or stopped) and waits until it serves.
  absl::Status StartNode(int i);
  // Stops every node (the services stay up).
  void StopNodes();
  // The command line `tqdb serve` would get for node i (for tests that
  // start a node by hand, e.g. with a bad flag).
  std::vector<std::string> NodeCommand(int i) const;

 private:
  struct Node {
    std::string dir;
    int port = 0;
    std::unique_ptr<ChildProcess> process;
  };
  TqdbCluster() = default;
  absl::Status LaunchNode(int i);
  absl::Status AwaitServing(int i, absl::Duration timeout);
  // AwaitServing for a launched node; one that could not listen (its port
  // taken since it was picked, or since it last ran) is launched again on
  // another port.
  absl::Status AwaitServingOrMove(int i);

  std::string dir_;
  TqdbClusterOptions options_;
  std::unique_ptr<EtcdServer> etcd_;
  std::unique_ptr<NatsCluster> nats_;
  std::vector<Node> nodes_;
};

// Waits until, for each shard in `written` (shard -> sequence), at least
// `replicas` replicas on the nodes listed have applied that sequence;
// false after `timeout`, with *why saying what is missing.
bool AwaitApplied(const TqdbCluster& cluster, const std::vector<int>& nodes,
                  const std::string& collection,
                  const std::map<uint32_t, uint64_t>& written, int replicas,
                  absl::Duration timeout, std::string* why);

// A CreateCollection request: the name, dimension, metric, shards and
// replicas; the rest as the server defaults them.
v1::CreateCollectionRequest CollectionRequest(const std::string& name,
                                              uint32_t dim, v1::Metric metric,
                                              uint32_t shards,
                                              uint32_t replicas = 2);

// An exact search with limit 1 for the `dim` floats at `vector` through
// node `via` answers the stored point `id`. Fails the test (fatally when
// the search fails or finds nothing).
void ExpectExactTopOne(const TqdbCluster& cluster, int via,
                       const std::string& collection, const float* vector,
                       uint32_t dim, uint64_t id);

// The fixture of the end-to-end cluster tests: a cluster in a temporary
// directory, started by StartCluster, and collections created through
// node 1. Each fails the test (fatally) when what it starts fails; call
// them in ASSERT_NO_FATAL_FAILURE.
class TqdbClusterTest : public ::testing::Test {
 protected:
  void StartCluster(const TqdbClusterOptions& options = TqdbClusterOptions());
  // The collection's info in *info (when not null).
  void CreateCollection(const v1::CreateCollectionRequest& request,
                        v1::CollectionInfo* info = nullptr);
  // With two replicas.
  void Create(const std::string& name, uint32_t dim, v1::Metric metric,
              uint32_t shards);

  TempDir dir_;
  std::unique_ptr<TqdbCluster> cluster_;
};

}  // namespace testing_util
}  // namespace tqdb

#endif  // TQDB_TESTS_CLUSTER_TQDB_CLUSTER_H_
