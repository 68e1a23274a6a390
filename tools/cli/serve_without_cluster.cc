// `tqdb serve` built without the cluster (cmake -DTQDB_CLUSTER=OFF): the
// cluster's flags are refused, naming the option that builds it.
#include "absl/strings/str_cat.h"
#include "tools/cli/serve_cluster.h"

namespace tqdb {

absl::StatusOr<std::unique_ptr<ServeClusterNode>> ServeClusterFromFlags(
    const Flags& f) {
  for (const char* flag :
       {"cluster", "nats", "node-id", "advertise", "stream-replicas",
        "lease-ttl", "write-timeout", "hedge-ms", "replace-after",
        "stream-max-bytes", "stream-max-age"}) {
    if (f.Has(flag)) {
      return absl::FailedPreconditionError(
          absl::StrCat("--", flag,
                       ": this tqdb was built without the cluster (cmake "
                       "-DTQDB_CLUSTER=OFF); build it with -DTQDB_CLUSTER=ON"));
    }
  }
  return nullptr;
}

}  // namespace tqdb
