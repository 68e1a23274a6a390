// What the client subcommands (collections, search, ingest) share: where
// they go (--server HOST:PORT, or --data DIR in process) and how they
// configure a new collection (--dim, --metric, --method, ...).
#ifndef TQDB_TOOLS_CLI_CLIENT_H_
#define TQDB_TOOLS_CLI_CLIENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "db/db.h"
#include "db/payload_select.h"
#include "tools/cli/backend.h"
#include "tools/cli/flags.h"
#include "tools/cli/server_channel.h"

namespace tqdb {

// --server, --data, --api-key-file.
const FlagSpec& TargetFlags();
// Their lines in a usage text.
extern const char kTargetHelp[];

// The backend --server or --data names (exactly one of them);
// --api-key-file's key for a server. InvalidArgument for a bad
// combination.
absl::StatusOr<std::unique_ptr<Backend>> OpenBackend(const Flags& flags,
                                                     bool create_if_missing);
// The server --server names, with --api-key-file's key and --tls-ca /
// --tls-server-name (ConnectServer). InvalidArgument without --server or
// for a bad combination.
absl::StatusOr<ServerChannel> ServerFromFlags(const Flags& flags);

// --filter JSON (Qdrant's filter syntax, db/filter_json.h), or --filter
// @FILE to read it from a file: nullptr without the flag. InvalidArgument
// naming the place in the filter ("must[2].range.gt: expected a number")
// or the file.
absl::StatusOr<std::shared_ptr<const Filter>> FilterFromFlags(
    const Flags& flags);
// Its line in a usage text.
extern const char kFilterHelp[];

// --payload-include PATHS / --payload-exclude PATHS (comma-separated, as
// filters name keys): the parts of each payload shown (db/payload_select.h;
// the whole payloads without them). InvalidArgument naming the flag.
absl::StatusOr<PayloadSelector> PayloadSelectorFromFlags(const Flags& flags);
extern const char kPayloadSelectorHelp[];

// --dim, --metric, --method, --bits, --nlist, --seed, --no-store-vectors.
const FlagSpec& CreateFlags();

// The config of a new collection `name` from CreateFlags(). `input` and
// `input_dim`: the file the collection is created for (ingest --create),
// whose dimension --dim defaults to and must match; "" and 0 for none
// (--dim required). InvalidArgument naming the flag (and the file).
// A collection's BM25 settings as `tqdb collections info` shows them
// ("none" without).
std::string Bm25Text(const std::optional<Bm25Config>& bm25);

absl::StatusOr<CollectionConfig> ConfigFromFlags(const Flags& flags,
                                                 const std::string& name,
                                                 const std::string& input,
                                                 uint32_t input_dim);

// An existing collection (`have`) against the settings the create flags
// ask for (`want`, from ConfigFromFlags): OK when they agree; else
// InvalidArgument naming each difference, the collection's value and the
// flag's ("metric ip (--metric l2)", "nlist 64 (--nlist default 0)").
absl::Status CheckSameSettings(const CollectionConfig& have,
                               const CollectionConfig& want,
                               const Flags& flags);

}  // namespace tqdb

#endif  // TQDB_TOOLS_CLI_CLIENT_H_
