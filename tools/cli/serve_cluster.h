// The cluster side of `tqdb serve` (README "Cluster"): --cluster, --nats,
// --node-id, --advertise and their tuning flags, and the node they start.
// Two implementations behind this header, chosen by CMake's TQDB_CLUSTER:
// serve_cluster.cc (the default) joins a cluster with rpc/cluster/;
// serve_without_cluster.cc, for builds that leave the cluster out (the
// sanitizer stages, whose tests run no cluster: tools/sanitize.sh), refuses
// the flags with FailedPrecondition naming the build option.
#ifndef TQDB_TOOLS_CLI_SERVE_CLUSTER_H_
#define TQDB_TOOLS_CLI_SERVE_CLUSTER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "db/db.h"
#include "rpc/server.h"
#include "tools/cli/flags.h"

namespace tqdb {

// A node of the cluster, from the flags until it leaves (its destructor
// revokes its registration).
class ServeClusterNode {
 public:
  virtual ~ServeClusterNode() = default;
  // Starts the node over db (its database settings: dbo) and sets the
  // server's services to the cluster's (*so: its key and certificate are
  // also the node's to call its peers). A status whose code is
  // AlreadyExists, InvalidArgument or FailedPrecondition is the caller's
  // to fix (exit 2); others are failures (an unreachable etcd or NATS).
  virtual absl::Status Join(const DatabaseOptions& dbo, Database* db,
                            ServerOptions* so) = 0;
  // One line for the start-up message (node id, advertised address, etcd
  // and NATS endpoints).
  virtual std::string Describe() const = 0;
};

// The node the flags ask for, not started; null without any cluster flag.
// InvalidArgument on a bad or incomplete flag set; FailedPrecondition for
// any cluster flag in a build without the cluster.
absl::StatusOr<std::unique_ptr<ServeClusterNode>> ServeClusterFromFlags(
    const Flags& f);

}  // namespace tqdb

#endif  // TQDB_TOOLS_CLI_SERVE_CLUSTER_H_
