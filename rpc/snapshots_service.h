// tqdb.v1.Snapshots: directories <snapshot_dir>/<name>, each a snapshot made
// by Database::CreateSnapshot (a RocksDB checkpoint plus its TQDB_SNAPSHOT
// file: collection, creation time), of the server's database or, on a
// cluster node, of the cluster's collections (ClusterNode::Snapshot).
// Delete removes only such a directory.
#ifndef TQDB_RPC_SNAPSHOTS_SERVICE_H_
#define TQDB_RPC_SNAPSHOTS_SERVICE_H_

#include <functional>
#include <string>

#include "absl/synchronization/mutex.h"
#include "rpc/service_context.h"
#include "tqdb/v1/snapshots.grpc.pb.h"

namespace tqdb {

// Where a server keeps its snapshots: ServerOptions::snapshot_dir, else
// DIR/snapshots of its database.
std::string SnapshotDir(const ServerOptions& options, const Database& db);

class SnapshotsService final : public v1::Snapshots::Service {
 public:
  // Makes the snapshot of `collection` ("" = all) in target_dir, which does
  // not exist yet, as Database::CreateSnapshot does.
  using Writer = std::function<absl::Status(const std::string& target_dir,
                                            const std::string& collection)>;
  // writer: null for the server's database (Database::CreateSnapshot).
  SnapshotsService(const ServiceContext* context, std::string dir,
                   Writer writer = nullptr);

  grpc::Status Create(grpc::ServerContext* ctx,
                      const v1::CreateSnapshotRequest* req,
                      v1::SnapshotDescription* resp) override;
  grpc::Status List(grpc::ServerContext* ctx,
                    const v1::ListSnapshotsRequest* req,
                    v1::ListSnapshotsResponse* resp) override;
  grpc::Status Delete(grpc::ServerContext* ctx,
                      const v1::DeleteSnapshotRequest* req,
                      v1::DeleteSnapshotResponse* resp) override;

 private:
  const ServiceContext* const context_;
  const std::string dir_;
  const Writer writer_;
  // Serializes the calls' use of dir_ (choosing names, listing).
  absl::Mutex mu_;
};

}  // namespace tqdb

#endif  // TQDB_RPC_SNAPSHOTS_SERVICE_H_
