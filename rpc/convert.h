// Conversions between the tqdb.v1 protobuf enums and db/ types, shared by
// the server (rpc/server.cc) and the CLI's gRPC client (tools/backend.cc).
// Unknown values are InvalidArgument naming the value; UNSPECIFIED maps to
// the documented defaults (cosine, renorm). Thread-safe (pure functions).
#ifndef TQDB_RPC_CONVERT_H_
#define TQDB_RPC_CONVERT_H_

#include <string>

#include "absl/status/statusor.h"
#include "db/db.h"
#include "tqdb/v1/tqdb.pb.h"

namespace tqdb {

absl::StatusOr<Metric> MetricFromProto(v1::Metric m);
v1::Metric MetricToProto(Metric m);
// Method name as CollectionConfig::method spells it ("renorm", "mse", ...).
absl::StatusOr<std::string> MethodFromProto(v1::Method m);
absl::StatusOr<v1::Method> MethodToProto(const std::string& method);

}  // namespace tqdb

#endif  // TQDB_RPC_CONVERT_H_
