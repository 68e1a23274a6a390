#include "tests/cluster/tqdb_cluster.h"

#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace testing_util {

absl::StatusOr<std::unique_ptr<TqdbCluster>> TqdbCluster::Start(
    const std::string& dir, const TqdbClusterOptions& options) {
  std::unique_ptr<TqdbCluster> c(new TqdbCluster());
  c->dir_ = dir;
  c->options_ = options;
  TQ_ASSIGN_OR_RETURN(c->etcd_, EtcdServer::Start(dir + "/etcd"));
  TQ_ASSIGN_OR_RETURN(c->nats_,
                      NatsCluster::Start(dir + "/nats", options.nats_servers));
  c->nodes_.resize(options.nodes);
  for (int i = 0; i < options.nodes; ++i) {
    c->nodes_[i].dir = absl::StrCat(dir, "/node", i + 1);
    c->nodes_[i].port = FreeLoopbackPort();
    mkdir(c->nodes_[i].dir.c_str(), 0755);
  }
  const int initial =
      options.initial_nodes < 0 ? options.nodes : options.initial_nodes;
  for (int i = 0; i < initial; ++i) {
    TQ_RETURN_IF_ERROR(c->LaunchNode(i));
  }
  for (int i = 0; i < initial; ++i) {
    TQ_RETURN_IF_ERROR(c->AwaitServingOrMove(i));
  }
  return c;
}

TqdbCluster::~TqdbCluster() { StopNodes(); }

std::string TqdbCluster::address(int i) const {
  return absl::StrCat("127.0.0.1:", nodes_[i].port);
}

std::vector<std::string> TqdbCluster::NodeCommand(int i) const {
  std::vector<std::string> argv = {TQDB_BIN,
                                   "serve",
                                   "--data",
                                   data_dir(i),
                                   "--listen",
                                   address(i),
                                   "--advertise",
                                   address(i),
                                   "--port-file",
                                   nodes_[i].dir + "/port",
                                   "--cluster",
                                   "etcd=" + etcd_->endpoint(),
                                   "--nats",
                                   absl::StrJoin(nats_->urls(), ","),
                                   "--node-id",
                                   absl::StrCat(i + 1),
                                   "--stream-replicas",
                                   absl::StrCat(options_.stream_replicas),
                                   "--lease-ttl",
                                   "2",
                                   "--grace",
                                   "2"};
  argv.insert(argv.end(), options_.extra_flags.begin(),
              options_.extra_flags.end());
  return argv;
}

absl::Status TqdbCluster::LaunchNode(int i) {
  std::remove((nodes_[i].dir + "/port").c_str());
  TQ_ASSIGN_OR_RETURN(
      nodes_[i].process,
      ChildProcess::Spawn(NodeCommand(i), nodes_[i].dir + "/serve.log"));
  return absl::OkStatus();
}

absl::Status TqdbCluster::AwaitServing(int i, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const std::string port_file = nodes_[i].dir + "/port";
  while (absl::Now() < deadline) {
    if (!nodes_[i].process->Running()) break;
    std::ifstream f(port_file);
    int port = 0;
    if (f >> port && port == nodes_[i].port) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::UnavailableError(absl::StrCat("tqdb node ", i + 1,
                                             " did not start serving; log:\n",
                                             nodes_[i].process->LogTail()));
}

void TqdbCluster::StopNode(int i) {
  if (nodes_[i].process) nodes_[i].process->Stop(absl::Seconds(30));
}

void TqdbCluster::StopNodes() {
  for (Node& n : nodes_) {
    if (n.process) n.process->Signal(SIGTERM);
  }
  for (Node& n : nodes_) {
    if (n.process) n.process->Stop(absl::Seconds(30));
  }
}

absl::Status TqdbCluster::AwaitServingOrMove(int i) {
  // A port is picked free long before its node binds it, and the tests
  // running beside this one pick from the same range: CI saw a node fail
  // with "address in use" (2026-12-06), and a node restarted after a kill
  // -9 finds its old port taken as well. The node registers its address
  // in etcd when it starts, so it may take another.
  absl::Status s = AwaitServing(i, absl::Seconds(60));
  for (int attempt = 0; attempt < 3 && !s.ok(); ++attempt) {
    if (nodes_[i].process->Running() ||
        !absl::StrContains(nodes_[i].process->LogTail(), "address in use")) {
      return s;
    }
    nodes_[i].port = FreeLoopbackPort();
    TQ_RETURN_IF_ERROR(LaunchNode(i));
    s = AwaitServing(i, absl::Seconds(60));
  }
  return s;
}

absl::Status TqdbCluster::StartNode(int i) {
  TQ_RETURN_IF_ERROR(LaunchNode(i));
  return AwaitServingOrMove(i);
}

absl::Status TqdbCluster::RestartNode(int i) {
  StopNode(i);
  TQ_RETURN_IF_ERROR(LaunchNode(i));
  return AwaitServingOrMove(i);
}

std::unique_ptr<v1::Collections::Stub> TqdbCluster::Collections(int i) const {
  return v1::Collections::NewStub(
      grpc::CreateChannel(address(i), grpc::InsecureChannelCredentials()));
}

std::unique_ptr<v1::Points::Stub> TqdbCluster::Points(int i) const {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  return v1::Points::NewStub(grpc::CreateCustomChannel(
      address(i), grpc::InsecureChannelCredentials(), args));
}

std::unique_ptr<tqdb::cluster::v1::Node::Stub> TqdbCluster::NodeStub(
    int i) const {
  return tqdb::cluster::v1::Node::NewStub(
      grpc::CreateChannel(address(i), grpc::InsecureChannelCredentials()));
}

bool AwaitApplied(const TqdbCluster& cluster, const std::vector<int>& nodes,
                  const std::string& collection,
                  const std::map<uint32_t, uint64_t>& written, int replicas,
                  absl::Duration timeout, std::string* why) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    std::map<uint32_t, int> done;
    std::vector<std::string> lagging;
    for (int i : nodes) {
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
      tqdb::cluster::v1::NodeStatusResponse status;
      grpc::Status s = cluster.NodeStub(i)->Status(
          &ctx, tqdb::cluster::v1::NodeStatusRequest(), &status);
      if (!s.ok()) {
        lagging.push_back(
            absl::StrCat("node ", i + 1, ": ", s.error_message()));
        continue;
      }
      for (const auto& r : status.replicas()) {
        if (r.collection() != collection) continue;
        auto w = written.find(r.shard());
        if (w == written.end()) continue;
        if (r.applied_sequence() >= w->second) {
          ++done[r.shard()];
        } else {
          lagging.push_back(absl::StrCat(
              "node ", i + 1, " shard ", r.shard(), " at ",
              r.applied_sequence(), " of ", w->second, " [sessions ",
              r.sessions(), ", fetches ", r.fetches(), ", received ",
              r.entries_received(), "; consumer delivered ",
              r.consumer_delivered(), ", ack floor ", r.consumer_ack_floor(),
              ", pending ", r.consumer_pending(), ", ack pending ",
              r.consumer_ack_pending(), "]",
              r.last_error().empty() ? "" : " (" + r.last_error() + ")"));
        }
      }
    }
    bool all = true;
    for (const auto& [shard, seq] : written) {
      if (done[shard] < replicas) all = false;
    }
    if (all) return true;
    if (absl::Now() >= deadline) {
      *why = absl::StrJoin(lagging, "; ");
      if (why->empty()) *why = "too few replicas report the shards";
      return false;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

v1::CreateCollectionRequest CollectionRequest(const std::string& name,
                                              uint32_t dim, v1::Metric metric,
                                              uint32_t shards,
                                              uint32_t replicas) {
  v1::CreateCollectionRequest req;
  req.set_name(name);
  req.set_dim(dim);
  req.set_metric(metric);
  req.set_shards(shards);
  req.set_replicas(replicas);
  return req;
}

void ExpectExactTopOne(const TqdbCluster& cluster, int via,
                       const std::string& collection, const float* vector,
                       uint32_t dim, uint64_t id) {
  v1::SearchRequest req;
  req.set_collection(collection);
  req.mutable_vector()->Add(vector, vector + dim);
  req.set_limit(1);
  req.mutable_params()->set_exact(true);
  grpc::ClientContext ctx;
  v1::SearchResponse resp;
  grpc::Status s = cluster.Points(via)->Search(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.points_size(), 1);
  EXPECT_EQ(resp.points(0).id(), id);
}

void TqdbClusterTest::StartCluster(const TqdbClusterOptions& options) {
  ASSERT_FALSE(dir_.path().empty());
  auto c = TqdbCluster::Start(dir_.path(), options);
  ASSERT_TRUE(c.ok()) << c.status();
  cluster_ = std::move(*c);
}

void TqdbClusterTest::CreateCollection(
    const v1::CreateCollectionRequest& request, v1::CollectionInfo* info) {
  grpc::ClientContext ctx;
  v1::CollectionInfo answer;
  grpc::Status s = cluster_->Collections(0)->Create(&ctx, request, &answer);
  ASSERT_TRUE(s.ok()) << s.error_message();
  if (info != nullptr) *info = std::move(answer);
}

void TqdbClusterTest::Create(const std::string& name, uint32_t dim,
                             v1::Metric metric, uint32_t shards) {
  CreateCollection(CollectionRequest(name, dim, metric, shards));
}

}  // namespace testing_util
}  // namespace tqdb
