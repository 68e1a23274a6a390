// tqdb.v1.Snapshots: directories <snapshot_dir>/<name>, each a snapshot made
// by Database::CreateSnapshot (a RocksDB checkpoint plus its TQDB_SNAPSHOT
// file: collection, creation time). Delete removes only such a directory.
#ifndef TQDB_RPC_SNAPSHOTS_SERVICE_H_
#define TQDB_RPC_SNAPSHOTS_SERVICE_H_

#include <string>

#include "absl/synchronization/mutex.h"
#include "rpc/service_context.h"
#include "tqdb/v1/snapshots.grpc.pb.h"

namespace tqdb {

class SnapshotsService final : public v1::Snapshots::Service {
 public:
  SnapshotsService(const ServiceContext* context, std::string dir)
      : context_(context), dir_(std::move(dir)) {}

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
  // Serializes the calls' use of dir_ (choosing names, listing).
  absl::Mutex mu_;
};

}  // namespace tqdb

#endif  // TQDB_RPC_SNAPSHOTS_SERVICE_H_
