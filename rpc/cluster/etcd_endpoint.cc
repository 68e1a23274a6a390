#include "rpc/cluster/etcd_endpoint.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tqdb {
namespace cluster {

EtcdEndpoint::EtcdEndpoint(std::string addr) : address(std::move(addr)) {
  grpc::ChannelArguments args;
  // After etcd went away, try again soon: the default backoff grows to two
  // minutes, during which every call fails at once.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // Ping while a stream (watch) is open, so that a peer that died without
  // closing the connection breaks it. etcd accepts pings every 5 s or more
  // and only with calls in flight (--grpc-keepalive-min-time, Go's default
  // enforcement policy).
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  channel = grpc::CreateCustomChannel(address,
                                      grpc::InsecureChannelCredentials(), args);
  kv = etcdserverpb::KV::NewStub(channel);
  watch = etcdserverpb::Watch::NewStub(channel);
  lease = etcdserverpb::Lease::NewStub(channel);
  maintenance = etcdserverpb::Maintenance::NewStub(channel);
}

absl::Status FromGrpc(const grpc::Status& status, absl::string_view address,
                      absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  // gRPC's and Abseil's codes are numerically the same.
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat("etcd at ", address, ": ", what, ": ",
                                   status.error_message()));
}

void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

KeyValue FromProto(const mvccpb::KeyValue& kv) {
  KeyValue out;
  out.key = kv.key();
  out.value = kv.value();
  out.create_revision = kv.create_revision();
  out.mod_revision = kv.mod_revision();
  out.version = kv.version();
  out.lease = kv.lease();
  return out;
}

}  // namespace cluster
}  // namespace tqdb
