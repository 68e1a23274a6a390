#include "rpc/convert.h"

#include "absl/strings/str_cat.h"

namespace tqdb {

namespace pb = ::tqdb::v1;

absl::StatusOr<Metric> MetricFromProto(pb::Metric m) {
  switch (m) {
    case pb::METRIC_UNSPECIFIED:
    case pb::METRIC_COSINE:
      return Metric::kCosine;
    case pb::METRIC_IP:
      return Metric::kInnerProduct;
    case pb::METRIC_L2:
      return Metric::kL2;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unknown metric ", static_cast<int>(m)));
  }
}

pb::Metric MetricToProto(Metric m) {
  switch (m) {
    case Metric::kCosine:
      return pb::METRIC_COSINE;
    case Metric::kInnerProduct:
      return pb::METRIC_IP;
    case Metric::kL2:
      return pb::METRIC_L2;
  }
  return pb::METRIC_UNSPECIFIED;
}

absl::StatusOr<std::string> MethodFromProto(pb::Method m) {
  switch (m) {
    case pb::METHOD_UNSPECIFIED:
    case pb::METHOD_RENORM:
      return std::string("renorm");
    case pb::METHOD_MSE:
      return std::string("mse");
    case pb::METHOD_PROD:
      return std::string("prod");
    case pb::METHOD_PQ:
      return std::string("pq");
    case pb::METHOD_PCA:
      return std::string("pca");
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unknown method ", static_cast<int>(m)));
  }
}

absl::StatusOr<pb::Method> MethodToProto(const std::string& method) {
  if (method == "renorm") return pb::METHOD_RENORM;
  if (method == "mse") return pb::METHOD_MSE;
  if (method == "prod") return pb::METHOD_PROD;
  if (method == "pq") return pb::METHOD_PQ;
  if (method == "pca") return pb::METHOD_PCA;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown method '", method, "' (renorm, mse, prod, pca or pq)"));
}

}  // namespace tqdb
