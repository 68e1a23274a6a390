#include "tools/cli/serve_cluster.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "quant/status_macros.h"
#include "rpc/cluster/cluster_node.h"
#include "rpc/cluster_services.h"

namespace tqdb {
namespace {

class JoinedNode : public ServeClusterNode {
 public:
  explicit JoinedNode(cluster::ClusterOptions options)
      : options_(std::move(options)) {}

  absl::Status Join(const DatabaseOptions& dbo, Database* db,
                    ServerOptions* so) override {
    options_.database = dbo;
    // Nodes call each other with the cluster's key and certificate.
    options_.peer_api_key = so->api_key;
    options_.peer_tls_root_pem = so->tls_cert_pem;
    TQ_ASSIGN_OR_RETURN(node_, cluster::ClusterNode::Start(options_, db));
    so->services = ClusterServices(node_.get());
    return absl::OkStatus();
  }

  std::string Describe() const override {
    return absl::StrCat("tqdb cluster node ", options_.node_id, " (advertised ",
                        options_.advertise, "), etcd ",
                        absl::StrJoin(options_.etcd_endpoints, ","), ", nats ",
                        absl::StrJoin(options_.nats_servers, ","));
  }

 private:
  cluster::ClusterOptions options_;
  std::unique_ptr<cluster::ClusterNode> node_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ServeClusterNode>> ServeClusterFromFlags(
    const Flags& f) {
  const bool any = f.Has("cluster") || f.Has("nats") || f.Has("node-id") ||
                   f.Has("advertise");
  if (!any) return nullptr;
  if (!(f.Has("cluster") && f.Has("nats") && f.Has("node-id") &&
        f.Has("advertise"))) {
    return absl::InvalidArgumentError(
        "--cluster, --nats, --node-id and --advertise go together");
  }
  cluster::ClusterOptions o;
  const std::string cluster_flag = f.GetString("cluster");
  absl::string_view etcd = cluster_flag;
  if (!absl::ConsumePrefix(&etcd, "etcd=") || etcd.empty()) {
    return absl::InvalidArgumentError(
        "--cluster: expected etcd=HOST:PORT[,HOST:PORT...]");
  }
  o.etcd_endpoints = absl::StrSplit(etcd, ',', absl::SkipEmpty());
  o.nats_servers = absl::StrSplit(f.GetString("nats"), ',', absl::SkipEmpty());
  TQ_ASSIGN_OR_RETURN(int64_t id, f.GetInt("node-id", 0, 1, UINT32_MAX));
  o.node_id = static_cast<uint32_t>(id);
  o.advertise = f.GetString("advertise");
  TQ_ASSIGN_OR_RETURN(int64_t replicas, f.GetInt("stream-replicas", 3, 1, 5));
  o.stream_replicas = static_cast<int>(replicas);
  TQ_ASSIGN_OR_RETURN(double ttl, f.GetDouble("lease-ttl", 5));
  if (!(ttl >= 2 && ttl <= 600)) {
    return absl::InvalidArgumentError("--lease-ttl: seconds in [2, 600]");
  }
  o.lease_ttl = absl::Seconds(ttl);
  TQ_ASSIGN_OR_RETURN(double write_timeout, f.GetDouble("write-timeout", 10));
  if (!(write_timeout >= 0.1 && write_timeout <= 3600)) {
    return absl::InvalidArgumentError(
        "--write-timeout: seconds in [0.1, 3600]");
  }
  o.write_timeout = absl::Seconds(write_timeout);
  TQ_ASSIGN_OR_RETURN(int64_t hedge_ms, f.GetInt("hedge-ms", 250, 1, 600000));
  o.hedge_delay = absl::Milliseconds(hedge_ms);
  TQ_ASSIGN_OR_RETURN(double replace_after, f.GetDouble("replace-after", 30));
  if (!(replace_after >= 1 && replace_after <= 86400)) {
    return absl::InvalidArgumentError("--replace-after: seconds in [1, 86400]");
  }
  o.replace_after = absl::Seconds(replace_after);
  TQ_ASSIGN_OR_RETURN(o.stream_max_bytes,
                      f.GetInt("stream-max-bytes", -1, -1, int64_t{1} << 60));
  if (o.stream_max_bytes == 0) o.stream_max_bytes = -1;
  TQ_ASSIGN_OR_RETURN(double max_age, f.GetDouble("stream-max-age", 0));
  if (!(max_age >= 0 && max_age <= 1e9)) {
    return absl::InvalidArgumentError(
        "--stream-max-age: seconds in [0, 1e9] (0: keep everything)");
  }
  o.stream_max_age = absl::Seconds(max_age);
  return std::make_unique<JoinedNode>(std::move(o));
}

}  // namespace tqdb
