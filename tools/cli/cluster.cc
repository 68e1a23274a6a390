// tqdb cluster: a cluster node's state, and the drain of a node (its shard
// replicas moved to the other nodes before it is taken out), over any node
// of the cluster (the cluster's Node service, proto/tqdb/cluster/v1).
#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "rpc/convert.h"
#include "tools/cli/client.h"
#include "tools/cli/commands.h"
#include "tools/cli/output.h"
#include "tools/cli/server_channel.h"
#include "tqdb/cluster/v1/cluster.grpc.pb.h"

namespace tqdb {
namespace {

namespace cpb = ::tqdb::cluster::v1;

constexpr char kClusterCommand[] = "cluster";

constexpr char kClusterUsage[] =
    "usage: tqdb cluster --server HOST:PORT [ACTION] [--json]\n"
    "\n"
    "A node of a cluster (tqdb serve --cluster), asked at --server.\n"
    "\n"
    "actions:\n"
    "  status          that node: its id, its connections to etcd and NATS,\n"
    "                  whether it is being drained, its shard replicas; and\n"
    "                  every node as it sees the cluster: live or gone,\n"
    "                  draining, replicas held and ready (default)\n"
    "  drain NODE      move every shard replica off node NODE (its id), so\n"
    "                  that it can be stopped for good with every shard on\n"
    "                  `replicas` nodes; the node serves its replicas until\n"
    "                  each has a ready copy elsewhere. Returns at once with\n"
    "                  the replicas the node still holds; run it again (or\n"
    "                  status at that node) to follow: 0 is drained\n"
    "  undrain NODE    end a drain (the balancer then evens the loads)\n"
    "\n"
    "flags:\n"
    "  --server HOST:PORT     any node of the cluster\n"
    "  --api-key-file F       API key for the server (else $TQDB_API_KEY)\n"
    "  --tls-ca CA.pem        talk TLS to the server, trusting the\n"
    "                         certificates CA.pem signs\n"
    "  --tls-server-name N    the name the server's certificate must carry\n"
    "  --json                 the answer as one JSON object\n";

std::string Json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.always_print_primitive_fields = true;
  if (!google::protobuf::util::MessageToJsonString(m, &out, o).ok()) {
    return "{}";
  }
  return out;
}

void PrintStatus(const cpb::NodeStatusResponse& s, std::ostream& out) {
  out << absl::StrFormat(
      "node %d at %s: etcd %s, NATS %s%s; %d shard replicas in the maps, %d "
      "running here\n",
      s.node_id(), s.address(), s.etcd_connected() ? "connected" : "away",
      s.nats_connected() ? "connected" : "away",
      s.draining() ? ", being drained" : "", s.mapped_replicas(),
      s.replicas_size());
  if (s.replicas_size() > 0) {
    out << absl::StrFormat("%-24s %5s %12s %12s %-7s %s\n", "collection",
                           "shard", "applied", "count", "trained",
                           "last error");
    for (const cpb::ReplicaStatus& r : s.replicas()) {
      out << absl::StrFormat("%-24s %5d %12s %12s %-7s %s\n", r.collection(),
                             r.shard(), Thousands(r.applied_sequence()),
                             Thousands(r.count()), r.trained() ? "yes" : "no",
                             r.last_error());
    }
  }
  out << absl::StrFormat("\nthe cluster as node %d sees it:\n", s.node_id());
  out << absl::StrFormat("%-6s %-22s %-16s %9s %6s\n", "node", "address",
                         "state", "replicas", "ready");
  for (const auto& n : s.nodes()) {
    std::string state = n.live() ? "live" : "gone";
    if (n.draining()) absl::StrAppend(&state, ", draining");
    out << absl::StrFormat("%-6d %-22s %-16s %9d %6d\n", n.node_id(),
                           n.address().empty() ? "-" : n.address(), state,
                           n.mapped_replicas(), n.ready_replicas());
  }
}

// A Node call's failure; a server without the Node service is a single
// server, not a cluster node.
absl::Status NodeError(const grpc::Status& s, const ServerChannel& server) {
  if (s.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    return absl::FailedPreconditionError(
        absl::StrCat("the server at ", server.address,
                     " is not a cluster node (tqdb serve --cluster)"));
  }
  return FromGrpc(s);
}

}  // namespace

const FlagSpec& ClusterFlags() {
  static const FlagSpec* spec = new FlagSpec{
      {"server", "api-key-file", "tls-ca", "tls-server-name"}, {"json"}, true};
  return *spec;
}

int RunCluster(const std::vector<std::string>& args, std::ostream& out,
               std::ostream& err) {
  int exit_code;
  std::optional<Flags> flags =
      ParseCommandLine(kClusterCommand, args, ClusterFlags(), kClusterUsage,
                       out, err, &exit_code);
  if (!flags) return exit_code;
  const std::vector<std::string>& pos = flags->positionals();
  const std::string action = pos.empty() ? "status" : pos[0];
  uint32_t node = 0;
  if (action == "status") {
    if (pos.size() > 1) {
      return UsageError(kClusterCommand, "status takes no argument", err);
    }
  } else if (action == "drain" || action == "undrain") {
    if (pos.size() != 2) {
      return UsageError(kClusterCommand,
                        absl::StrCat(action, " takes one node id"), err);
    }
    if (!absl::SimpleAtoi(pos[1], &node) || node == 0) {
      return UsageError(
          kClusterCommand,
          absl::StrCat(action, ": '", pos[1],
                       "' is not a node id (a positive integer, the node's "
                       "--node-id)"),
          err);
    }
  } else {
    return UsageError(kClusterCommand,
                      absl::StrCat("unknown action '", action, "'"), err);
  }
  auto server = ServerFromFlags(*flags);
  if (!server.ok()) return Fail(kClusterCommand, server.status(), err);
  auto stub = cpb::Node::NewStub(server->channel);
  const bool json = flags->Has("json");
  auto ctx = server->Context();
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(30));
  if (action == "status") {
    cpb::NodeStatusResponse resp;
    const grpc::Status s =
        stub->Status(ctx.get(), cpb::NodeStatusRequest(), &resp);
    if (!s.ok()) return Fail(kClusterCommand, NodeError(s, *server), err);
    if (json) {
      out << Json(resp) << "\n";
    } else {
      PrintStatus(resp, out);
    }
    return kExitOk;
  }
  cpb::DrainRequest req;
  req.set_node_id(node);
  req.set_cancel(action == "undrain");
  cpb::DrainResponse resp;
  const grpc::Status s = stub->Drain(ctx.get(), req, &resp);
  if (!s.ok()) return Fail(kClusterCommand, NodeError(s, *server), err);
  if (json) {
    out << Json(resp) << "\n";
  } else if (resp.draining()) {
    out << absl::StrFormat(
        "node %d is being drained: %d shard replicas left on it%s\n",
        resp.node_id(), resp.mapped_replicas(),
        resp.mapped_replicas() == 0 ? " (drained: it can be stopped)" : "");
  } else {
    out << absl::StrFormat("node %d is not being drained (%d shard replicas)\n",
                           resp.node_id(), resp.mapped_replicas());
  }
  return kExitOk;
}

}  // namespace tqdb
