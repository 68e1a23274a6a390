// `tqdb cluster` built without the cluster (cmake -DTQDB_CLUSTER=OFF): a
// refusal naming the option that builds it.
#include "tools/cli/commands.h"
#include "tools/cli/output.h"

namespace tqdb {

int RunCluster(const std::vector<std::string>& /*args*/, std::ostream& /*out*/,
               std::ostream& err) {
  return UsageError("cluster",
                    "this tqdb was built without the cluster (cmake "
                    "-DTQDB_CLUSTER=OFF); build it with -DTQDB_CLUSTER=ON",
                    err);
}

}  // namespace tqdb
