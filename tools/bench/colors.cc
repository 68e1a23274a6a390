#include "tools/bench/colors.h"

#include <map>

namespace tqdb {

std::string FamilyColor(const std::string& family, size_t index) {
  static const std::map<std::string, std::string> kColors = {
      {"renorm", "#1f77b4"},
      {"mse", "#ff7f0e"},
      {"prod", "#2ca02c"},
      {"pq", "#d62728"},
      {"pq8", "#9467bd"},
      {"faiss-ivfpq", "#8c564b"},
      {"faiss-pq-flat", "#8c564b"},
      {"faiss-ivfpqfs", "#3b3b3b"},
      {"faiss-pqfs-flat", "#3b3b3b"},
      {"pca", "#e377c2"},
      {"faiss-lut256", "#8c564b"},
      {"faiss-fastscan", "#3b3b3b"},
      {"prod-gaussian", "#bcbd22"}};
  static const char* kSpare[] = {"#17becf", "#bcbd22", "#7f7f7f", "#aec7e8"};
  auto it = kColors.find(family);
  return it != kColors.end() ? it->second : kSpare[index % 4];
}

}  // namespace tqdb
