// Entry points of the tqdb subcommands that serve and use a database
// (tools/cli/<command>.cc; bench and distortion are tools/bench/'s). Each
// takes the arguments after the subcommand name, writes results to `out` and
// diagnostics to `err`, and returns the process exit code of
// tools/cli/output.h: 0 on success, 2 on a usage or input error (bad flag,
// unreadable or malformed file: the message names the file and row), 1 on
// an internal failure.
#ifndef TQDB_TOOLS_CLI_COMMANDS_H_
#define TQDB_TOOLS_CLI_COMMANDS_H_

#include <ostream>
#include <string>
#include <vector>

#include "tools/cli/flags.h"

namespace tqdb {

// tqdb serve: the gRPC server over a data directory until SIGTERM/SIGINT.
int RunServe(const std::vector<std::string>& args, std::ostream& out,
             std::ostream& err);

// tqdb ingest: streams a vector file (fvecs, bvecs, ivecs, fbin, u8bin,
// i8bin, npy, hdf5, jsonl, csv) into a collection, over gRPC or embedded.
int RunIngest(const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err);

// tqdb search: the nearest neighbours of one query vector.
int RunSearch(const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err);

// tqdb collections: list, info, create, train, drop, index, drop-index,
// count.
int RunCollections(const std::vector<std::string>& args, std::ostream& out,
                   std::ostream& err);

// tqdb scroll: the points of a collection in id order (filtered or not).
int RunScroll(const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err);

// tqdb cluster: a cluster node's status, and the drain of a node
// (tools/cli/cluster.cc; built without the cluster, a clear refusal).
int RunCluster(const std::vector<std::string>& args, std::ostream& out,
               std::ostream& err);

// tqdb snapshots: a server's snapshots (list, create, delete), and the
// restore of a snapshot's collections into a server, cluster or data
// directory.
int RunSnapshots(const std::vector<std::string>& args, std::ostream& out,
                 std::ostream& err);

// The flags each command parses its arguments with (tests pin the documented
// forms against them).
const FlagSpec& ServeFlags();
const FlagSpec& IngestFlags();
const FlagSpec& SearchFlags();
const FlagSpec& CollectionsFlags();
const FlagSpec& ScrollFlags();
const FlagSpec& SnapshotsFlags();

}  // namespace tqdb

#endif  // TQDB_TOOLS_CLI_COMMANDS_H_
