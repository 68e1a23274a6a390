// tqdb snapshots: a server's snapshots (tqdb.v1.Snapshots: list, create,
// delete; on a cluster node, snapshots of the cluster's collections), and
// the restore of a snapshot's collections into a running server or cluster
// (or a data directory): each created with the snapshot's settings and
// payload indexes, then its points upserted through the ordinary write path.
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "quant/status_macros.h"
#include "rpc/convert.h"
#include "tools/cli/client.h"
#include "tools/cli/commands.h"
#include "tools/cli/output.h"
#include "tools/cli/server_channel.h"
#include "tqdb/v1/snapshots.grpc.pb.h"

namespace tqdb {
namespace {

namespace fs = std::filesystem;
namespace pb = ::tqdb::v1;

constexpr char kSnapshotsCommand[] = "snapshots";

constexpr char kSnapshotsUsage[] =
    "usage: tqdb snapshots --server HOST:PORT [ACTION] [--json]\n"
    "       tqdb snapshots restore SNAPSHOT (--server HOST:PORT | --data DIR)\n"
    "                      [--collection NAME [--as NEW_NAME]] [--batch N]\n"
    "\n"
    "A server's snapshots: consistent copies of its collections in its\n"
    "snapshot directory (tqdb serve --snapshot-dir, default DIR/snapshots).\n"
    "On a cluster node a snapshot holds the cluster's collections, every\n"
    "shard copied from one ready replica (each shard as of the log entry\n"
    "that replica had applied), kept on that node.\n"
    "\n"
    "actions:\n"
    "  list [COLLECTION]     the server's snapshots, oldest first (default)\n"
    "  create [COLLECTION]   a snapshot of COLLECTION (default: of every\n"
    "                        collection); prints its name and path\n"
    "  delete NAME           delete a snapshot (NAME as list shows it)\n"
    "  restore SNAPSHOT      load the collections of SNAPSHOT (a snapshot\n"
    "                        directory on this machine; it is not changed)\n"
    "                        into the server at --server (a single server or\n"
    "                        any node of a cluster) or the data directory\n"
    "                        --data: each collection created with the\n"
    "                        snapshot's settings and payload indexes, then\n"
    "                        its points (vectors, payloads) upserted. A\n"
    "                        collection of that name must not exist (exit 2;\n"
    "                        drop it, or restore it under --as). To serve a\n"
    "                        snapshot as it is: tqdb serve --data NEW_DIR\n"
    "                        --restore SNAPSHOT\n"
    "\n"
    "flags:\n"
    "%s"
    "  --collection NAME      restore: only this collection of the snapshot\n"
    "  --as NEW_NAME          restore: under this name (with --collection)\n"
    "  --batch N              restore: points per upsert (default 1000)\n"
    "  --json                 the answer as JSON\n";

nlohmann::json DescriptionJson(const pb::SnapshotDescription& d) {
  return {{"name", d.name()},
          {"collection", d.collection()},
          {"creation_time", d.creation_time()},
          {"size_bytes", d.size_bytes()},
          {"path", d.path()}};
}

std::string Created(int64_t unix_seconds) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%SZ",
                          absl::FromUnixSeconds(unix_seconds),
                          absl::UTCTimeZone());
}

// A Snapshots call's context: the server's key, a deadline (a cluster's
// snapshot copies every shard: generous).
std::unique_ptr<grpc::ClientContext> CallContext(const ServerChannel& server) {
  auto ctx = server.Context();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::hours(6));
  return ctx;
}

int RunServerAction(const std::string& action, const std::string& arg,
                    const Flags& flags, std::ostream& out, std::ostream& err) {
  if (flags.Has("data")) {
    return UsageError(kSnapshotsCommand,
                      absl::StrCat(action,
                                   " asks a server (--server): a data "
                                   "directory's snapshots are made by the "
                                   "server that serves it"),
                      err);
  }
  auto server = ServerFromFlags(flags);
  if (!server.ok()) return Fail(kSnapshotsCommand, server.status(), err);
  auto stub = pb::Snapshots::NewStub(server->channel);
  const bool json = flags.Has("json");
  auto ctx = CallContext(*server);
  if (action == "create") {
    pb::CreateSnapshotRequest req;
    req.set_collection(arg);
    pb::SnapshotDescription d;
    const grpc::Status s = stub->Create(ctx.get(), req, &d);
    if (!s.ok()) return Fail(kSnapshotsCommand, FromGrpc(s), err);
    if (json) {
      out << DescriptionJson(d).dump() << "\n";
    } else {
      out << absl::StrFormat(
          "snapshot %s of %s: %s bytes at %s\n", d.name(),
          d.collection().empty()
              ? std::string("every collection")
              : absl::StrCat("collection '", d.collection(), "'"),
          Thousands(d.size_bytes()), d.path());
    }
  } else if (action == "delete") {
    pb::DeleteSnapshotRequest req;
    req.set_name(arg);
    pb::DeleteSnapshotResponse resp;
    const grpc::Status s = stub->Delete(ctx.get(), req, &resp);
    if (!s.ok()) return Fail(kSnapshotsCommand, FromGrpc(s), err);
    if (json) {
      out << nlohmann::json{{"deleted", arg}}.dump() << "\n";
    } else {
      out << "deleted snapshot " << arg << "\n";
    }
  } else {  // list
    pb::ListSnapshotsRequest req;
    req.set_collection(arg);
    pb::ListSnapshotsResponse resp;
    const grpc::Status s = stub->List(ctx.get(), req, &resp);
    if (!s.ok()) return Fail(kSnapshotsCommand, FromGrpc(s), err);
    if (json) {
      nlohmann::json all = nlohmann::json::array();
      for (const auto& d : resp.snapshots()) all.push_back(DescriptionJson(d));
      out << all.dump() << "\n";
    } else {
      out << absl::StrFormat("%-40s %-20s %-21s %15s\n", "name", "collection",
                             "created", "bytes");
      for (const auto& d : resp.snapshots()) {
        out << absl::StrFormat(
            "%-40s %-20s %-21s %15s\n", d.name(),
            d.collection().empty() ? "(all)" : d.collection(),
            Created(d.creation_time()), Thousands(d.size_bytes()));
      }
    }
  }
  return kExitOk;
}

// The points and payload indexes of the snapshot's collection (`from`,
// `info`) into the collection `name` just made at `to`; returns the points
// stored.
absl::StatusOr<uint64_t> Load(Backend& from, const CollectionInfo& info,
                              Backend& to, const std::string& name,
                              uint32_t batch) {
  for (const FieldIndexInfo& f : info.field_indexes) {
    TQ_RETURN_IF_ERROR(to.CreateFieldIndex(name, f.field, f.type).status())
        << "payload index '" << f.field << "'";
  }
  TQ_ASSIGN_OR_RETURN(std::unique_ptr<Ingest> ingest,
                      to.StartIngest(name, /*wait=*/false));
  ScrollOptions o;
  o.limit = batch;
  o.with_vectors = true;
  o.with_payload = true;
  for (;;) {
    TQ_ASSIGN_OR_RETURN(ScrollPage page, from.Scroll(info.config.name, o));
    std::vector<Point> points;
    points.reserve(page.points.size());
    for (Record& r : page.points) {
      if (!r.has_vector) {
        return absl::FailedPreconditionError(absl::StrCat(
            "point ", r.id, " of the snapshot has no stored vector"));
      }
      points.push_back(Point{r.id, std::move(r.vector), std::move(r.payload)});
    }
    if (!points.empty()) {
      TQ_RETURN_IF_ERROR(ingest->Send(std::move(points)));
    }
    if (!page.has_next) break;
    o.offset = page.next_offset;
  }
  TQ_ASSIGN_OR_RETURN(uint64_t stored, ingest->Finish());
  if (stored != info.count) {
    return absl::DataLossError(absl::StrCat("the snapshot holds ", info.count,
                                            " points, ", to.Describe(),
                                            " stored ", stored));
  }
  return stored;
}

// One collection of the snapshot (`from`) into `to` as `name`, which must
// not exist there; returns the points restored. On an error after the
// collection was made it is dropped again (a restore is whole or absent;
// the error says if the drop failed too).
absl::StatusOr<uint64_t> RestoreCollection(Backend& from,
                                           const CollectionInfo& info,
                                           Backend& to, const std::string& name,
                                           uint32_t batch) {
  CollectionConfig config = info.config;
  config.name = name;
  absl::StatusOr<CollectionInfo> made = to.Create(config);
  if (absl::IsAlreadyExists(made.status())) {
    return absl::AlreadyExistsError(absl::StrCat(
        "collection '", name, "' exists at ", to.Describe(),
        ": drop it first, or restore under another name (--collection ",
        info.config.name, " --as NEW_NAME); it was left as it is"));
  }
  if (!made.ok()) return made.status();
  absl::StatusOr<uint64_t> n = Load(from, info, to, name, batch);
  if (n.ok()) return n;
  const absl::Status dropped = to.Drop(name);
  return WithMessage(
      n.status(),
      absl::StrCat(n.status().message(), "; the partly restored collection '",
                   name, "' ",
                   dropped.ok() ? std::string("was dropped")
                                : absl::StrCat("could not be dropped (",
                                               dropped.message(),
                                               "): drop it by hand")));
}

int RunRestore(const std::string& snapshot, const Flags& flags,
               std::ostream& out, std::ostream& err) {
  const std::string only = flags.GetString("collection");
  const std::string as = flags.GetString("as");
  if (!as.empty() && only.empty()) {
    return UsageError(kSnapshotsCommand,
                      "--as renames one collection: name it with --collection",
                      err);
  }
  auto batch = flags.GetInt("batch", 1000, 1, 100000);
  if (!batch.ok()) return UsageError(kSnapshotsCommand, batch.status(), err);
  // The snapshot is copied (hard links) into a scratch directory and opened
  // there: a snapshot is never opened in place (it would be written to).
  const char* tmp = getenv("TMPDIR");
  std::string scratch =
      (fs::path(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") /
       "tqdb_restore.XXXXXX")
          .string();
  if (mkdtemp(scratch.data()) == nullptr) {
    return Fail(kSnapshotsCommand,
                absl::InternalError(
                    absl::StrCat("cannot make a scratch directory ", scratch)),
                err);
  }
  const std::string copy = (fs::path(scratch) / "db").string();
  std::unique_ptr<Backend> from, to;
  auto restore = [&]() -> absl::Status {
    {
      absl::Status s = Database::RestoreSnapshot(snapshot, copy);
      if (s.ok()) {
        auto opened = Backend::Embedded(copy, false);
        if (opened.ok()) from = std::move(*opened);
        s = opened.status();
      }
      TQ_RETURN_IF_ERROR(s) << "snapshot " << snapshot;
    }
    TQ_ASSIGN_OR_RETURN(to, OpenBackend(flags, /*create_if_missing=*/true));
    TQ_ASSIGN_OR_RETURN(std::vector<CollectionInfo> list, from->List());
    std::vector<CollectionInfo> infos;
    for (CollectionInfo& i : list) {
      if (only.empty() || i.config.name == only) infos.push_back(std::move(i));
    }
    if (!only.empty() && infos.empty()) {
      return absl::NotFoundError(absl::StrCat(
          "snapshot ", snapshot, " holds no collection '", only, "'"));
    }
    nlohmann::json restored = nlohmann::json::array();
    for (const CollectionInfo& info : infos) {
      const std::string name = as.empty() ? info.config.name : as;
      const std::string renamed =
          name == info.config.name ? "" : absl::StrCat(" as '", name, "'");
      absl::StatusOr<uint64_t> restored_points = RestoreCollection(
          *from, info, *to, name, static_cast<uint32_t>(*batch));
      TQ_RETURN_IF_ERROR(restored_points.status())
          << "restoring collection '" << info.config.name << "'" << renamed;
      const uint64_t n = *restored_points;
      restored.push_back({{"collection", info.config.name},
                          {"as", name},
                          {"points", n},
                          {"payload_indexes", info.field_indexes.size()}});
      if (!flags.Has("json")) {
        out << absl::StrFormat(
            "restored collection '%s'%s: %s points, %d payload indexes\n",
            info.config.name, renamed, Thousands(n), info.field_indexes.size());
      }
    }
    if (flags.Has("json")) out << restored.dump() << "\n";
    return absl::OkStatus();
  };
  absl::Status s = restore();
  for (Backend* b : {to.get(), from.get()}) {
    if (b == nullptr) continue;
    absl::Status closed = b->Close();
    if (s.ok()) s = closed;
  }
  const int code = s.ok() ? kExitOk : Fail(kSnapshotsCommand, s, err);
  std::error_code ec;
  fs::remove_all(scratch, ec);
  return code;
}

}  // namespace

const FlagSpec& SnapshotsFlags() {
  static const FlagSpec* spec = new FlagSpec(
      TargetFlags().And({{"collection", "as", "batch"}, {"json"}, true}));
  return *spec;
}

int RunSnapshots(const std::vector<std::string>& args, std::ostream& out,
                 std::ostream& err) {
  int exit_code;
  std::optional<Flags> flags = ParseCommandLine(
      kSnapshotsCommand, args, SnapshotsFlags(),
      absl::StrFormat(kSnapshotsUsage, kTargetHelp), out, err, &exit_code);
  if (!flags) return exit_code;
  const std::vector<std::string>& pos = flags->positionals();
  const std::string action = pos.empty() ? "list" : pos[0];
  if (action != "list" && action != "create" && action != "delete" &&
      action != "restore") {
    return UsageError(kSnapshotsCommand,
                      absl::StrCat("unknown action '", action, "'"), err);
  }
  const bool needs_arg = action == "delete" || action == "restore";
  if (pos.size() > 2 || (needs_arg && pos.size() != 2)) {
    return UsageError(
        kSnapshotsCommand,
        absl::StrCat(action, " takes ",
                     action == "delete"    ? "one snapshot name"
                     : action == "restore" ? "one snapshot directory"
                                           : "at most a collection name"),
        err);
  }
  const std::string arg = pos.size() > 1 ? pos[1] : "";
  if (action != "restore") {
    for (const char* flag : {"collection", "as", "batch"}) {
      if (flags->Has(flag)) {
        return UsageError(kSnapshotsCommand,
                          absl::StrCat("--", flag, " goes with restore"), err);
      }
    }
    return RunServerAction(action, arg, *flags, out, err);
  }
  return RunRestore(arg, *flags, out, err);
}

}  // namespace tqdb
