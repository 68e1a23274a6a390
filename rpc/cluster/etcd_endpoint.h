// Internal to rpc/cluster/: one etcd endpoint's gRPC channel and stubs, and
// the conversions between etcd's generated messages and etcd_client.h's
// types. Included by the .cc files only, so that users of the client do not
// see the generated code.
#ifndef TQDB_RPC_CLUSTER_ETCD_ENDPOINT_H_
#define TQDB_RPC_CLUSTER_ETCD_ENDPOINT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "etcd/mvcc/mvccpb/kv.pb.h"
#include "rpc/cluster/etcd_client.h"

namespace tqdb {
namespace cluster {

struct EtcdEndpoint {
  // A channel to `address` that reconnects quickly after etcd returns
  // (backoff 0.2-2 s instead of gRPC's up to 120 s) and pings an idle
  // connection so that a dead peer breaks open streams.
  explicit EtcdEndpoint(std::string address);

  std::string address;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  std::unique_ptr<etcdserverpb::Maintenance::Stub> maintenance;
};

// A gRPC status as absl::Status (same code) with "etcd at ADDRESS: what: "
// in front of the message.
absl::Status FromGrpc(const grpc::Status& status, absl::string_view address,
                      absl::string_view what);

void SetDeadline(grpc::ClientContext* context, absl::Duration timeout);

KeyValue FromProto(const mvccpb::KeyValue& kv);

}  // namespace cluster
}  // namespace tqdb

#endif  // TQDB_RPC_CLUSTER_ETCD_ENDPOINT_H_
