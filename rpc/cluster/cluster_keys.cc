#include "rpc/cluster/cluster_keys.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"

namespace tqdb {
namespace cluster {

std::string NodeKey(uint32_t node_id) {
  return absl::StrCat(kNodesPrefix, node_id);
}

std::string DrainKey(uint32_t node_id) {
  return absl::StrCat(kDrainPrefix, node_id);
}

std::string AliasKey(absl::string_view alias) {
  return absl::StrCat(kAliasesPrefix, alias);
}

std::string CollectionKey(absl::string_view name) {
  return absl::StrCat(kCollectionsPrefix, name);
}

std::string ShardMapKey(absl::string_view name) {
  return absl::StrCat(kShardsPrefix, name);
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  // Cannot fail for a message of a generated type.
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

absl::Status FromJson(absl::string_view json, google::protobuf::Message* out,
                      absl::string_view what) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // written by a newer node
  const auto s = google::protobuf::util::JsonStringToMessage(std::string(json),
                                                             out, options);
  if (s.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": not a ", out->GetDescriptor()->full_name(), ": ",
                   std::string(s.message())));
}

uint32_t ShardOf(uint64_t id, uint32_t shards) {
  uint64_t z = id + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<uint32_t>(z % shards);
}

std::string LocalName(int64_t uid, uint32_t shard) {
  return absl::StrCat("c", uid, "-s", shard);
}

std::optional<LocalShard> ParseLocalName(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, "c")) return std::nullopt;
  const size_t dash = name.find("-s");
  if (dash == absl::string_view::npos) return std::nullopt;
  LocalShard out;
  if (!absl::SimpleAtoi(name.substr(0, dash), &out.uid) ||
      !absl::SimpleAtoi(name.substr(dash + 2), &out.shard) || out.uid <= 0 ||
      LocalName(out.uid, out.shard) != absl::StrCat("c", name)) {
    return std::nullopt;
  }
  return out;
}

}  // namespace cluster
}  // namespace tqdb
