// The dashboard's static files (rpc/dashboard/), compiled into the binary
// by rpc/embed_files.cmake so that `tqdb serve` needs no files beside it.
#ifndef TQDB_RPC_DASHBOARD_ASSETS_H_
#define TQDB_RPC_DASHBOARD_ASSETS_H_

#include <cstddef>

#include "absl/types/span.h"

namespace tqdb {

struct Asset {
  const char* name;  // file name in rpc/dashboard/, e.g. "index.html"
  const unsigned char* data;
  size_t size;
};

absl::Span<const Asset> DashboardAssets();

}  // namespace tqdb

#endif  // TQDB_RPC_DASHBOARD_ASSETS_H_
