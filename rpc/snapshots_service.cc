#include "rpc/snapshots_service.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "db/format.h"
#include "quant/echo.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace {

namespace fs = std::filesystem;
namespace pb = ::tqdb::v1;

// Written by Database::CreateSnapshot: "collection=...\ncreated=...\n".
constexpr const char* kSnapshotMeta = dbformat::kSnapshotMarker;

absl::Status Describe(const fs::path& path, pb::SnapshotDescription* d) {
  d->set_name(path.filename().string());
  d->set_path(path.string());
  std::ifstream meta(path / kSnapshotMeta);
  std::string line;
  while (std::getline(meta, line)) {
    if (absl::StartsWith(line, "collection=")) {
      d->set_collection(line.substr(11));
    } else if (absl::StartsWith(line, "created=")) {
      int64_t t = 0;
      if (absl::SimpleAtoi(line.substr(8), &t)) d->set_creation_time(t);
    }
  }
  uint64_t size = 0;
  std::error_code ec;
  for (const auto& f : fs::recursive_directory_iterator(path, ec)) {
    if (f.is_regular_file(ec)) size += f.file_size(ec);
  }
  d->set_size_bytes(size);
  return absl::OkStatus();
}

}  // namespace

std::string SnapshotDir(const ServerOptions& options, const Database& db) {
  return options.snapshot_dir.empty()
             ? (fs::path(db.dir()) / "snapshots").string()
             : options.snapshot_dir;
}

SnapshotsService::SnapshotsService(const ServiceContext* context,
                                   std::string dir, Writer writer)
    : context_(context), dir_(std::move(dir)), writer_(std::move(writer)) {}

grpc::Status SnapshotsService::Create(grpc::ServerContext* ctx,
                                      const pb::CreateSnapshotRequest* req,
                                      pb::SnapshotDescription* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    absl::MutexLock l(&mu_);
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("cannot create ", dir_, ": ", ec.message()));
    }
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    const std::string base = absl::StrCat(
        req->collection().empty() ? "all" : req->collection(), "-",
        absl::FormatTime("%Y%m%dT%H%M%SZ", absl::FromUnixSeconds(now),
                         absl::UTCTimeZone()));
    std::string name = base;
    for (int i = 2; fs::exists(fs::path(dir_) / name, ec); ++i) {
      name = absl::StrCat(base, "-", i);
    }
    const fs::path path = fs::path(dir_) / name;
    TQ_RETURN_IF_ERROR(writer_ ? writer_(path.string(), req->collection())
                               : context_->db()->CreateSnapshot(
                                     path.string(), req->collection()));
    return Describe(path, resp);
  });
}

grpc::Status SnapshotsService::List(grpc::ServerContext* ctx,
                                    const pb::ListSnapshotsRequest* req,
                                    pb::ListSnapshotsResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    absl::MutexLock l(&mu_);
    std::vector<pb::SnapshotDescription> all;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_, ec)) {
      if (!fs::exists(e.path() / kSnapshotMeta)) continue;
      pb::SnapshotDescription d;
      TQ_RETURN_IF_ERROR(Describe(e.path(), &d));
      if (!req->collection().empty() && d.collection() != req->collection()) {
        continue;
      }
      all.push_back(std::move(d));
    }
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
      return std::make_pair(a.creation_time(), a.name()) <
             std::make_pair(b.creation_time(), b.name());
    });
    for (auto& d : all) *resp->add_snapshots() = std::move(d);
    return absl::OkStatus();
  });
}

grpc::Status SnapshotsService::Delete(grpc::ServerContext* ctx,
                                      const pb::DeleteSnapshotRequest* req,
                                      pb::DeleteSnapshotResponse* /*resp*/) {
  return context_->Call(ctx, [&]() -> absl::Status {
    const std::string& name = req->name();
    if (name.empty() || name == "." || name == ".." ||
        name.find('/') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("snapshot name '", EchoInput(name),
                       "' is not a name Snapshots.List returns"));
    }
    absl::MutexLock l(&mu_);
    const fs::path path = fs::path(dir_) / name;
    std::error_code ec;
    // Only what Create made: a directory with the snapshot marker.
    if (!fs::exists(path / kSnapshotMeta, ec)) {
      return absl::NotFoundError(
          absl::StrCat("no snapshot '", EchoInput(name), "' in ", dir_));
    }
    fs::remove_all(path, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("cannot delete ", path.string(), ": ", ec.message()));
    }
    return absl::OkStatus();
  });
}

}  // namespace tqdb
