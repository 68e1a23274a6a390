// Every conversion between the tqdb.v1 protobuf messages and db/ types, both
// directions, shared by the server (rpc/*_service.cc) and the CLI's gRPC
// client (tools/backend.cc), as Qdrant's lib/api/src/grpc/conversions.rs.
// Conversions do not validate: the API's own request rules are in
// rpc/validate.h, the database's in db/ (checked there, once).
//
// Enums: unknown values are InvalidArgument naming the value; UNSPECIFIED
// maps to the documented defaults (cosine, renorm). Zero values of request
// fields mean the server's default. Thread-safe (pure functions).
#ifndef TQDB_RPC_CONVERT_H_
#define TQDB_RPC_CONVERT_H_

#include <grpcpp/support/status.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "db/db.h"
#include "tqdb/v1/collections.pb.h"
#include "tqdb/v1/points.pb.h"

namespace tqdb {

// Status: same code (absl and gRPC codes are numerically identical) and
// message.
grpc::Status ToGrpc(const absl::Status& status);
absl::Status FromGrpc(const grpc::Status& status);

// Enums.
absl::StatusOr<Metric> MetricFromProto(v1::Metric m);
v1::Metric MetricToProto(Metric m);
// Method name as CollectionConfig::method spells it ("renorm", "mse", ...).
absl::StatusOr<std::string> MethodFromProto(v1::Method m);
absl::StatusOr<v1::Method> MethodToProto(const std::string& method);
// The rescoring source; unspecified is raw. A value outside the enum is
// refused by ValidateCreateCollection (rpc/validate.h) first: read as raw.
RefineKind RefineFromProto(v1::Refine r);
v1::Refine RefineToProto(RefineKind kind);
// The prefix sharing; unspecified is auto (validated as Refine is).
PrefixSharing PrefixSharingFromProto(v1::PrefixSharing s);
v1::PrefixSharing PrefixSharingToProto(PrefixSharing s);
PcaWeighting PcaWeightingFromProto(v1::PcaWeighting w);
v1::PcaWeighting PcaWeightingToProto(PcaWeighting w);

// Collections. A CollectionConfig's zero bits and seed stay the database's
// defaults; InvalidArgument for an unknown enum (or method name).
absl::StatusOr<CollectionConfig> FromProto(
    const v1::CreateCollectionRequest& in);
absl::Status ToProto(const CollectionConfig& in,
                     v1::CreateCollectionRequest* out);
void ToProto(const CollectionInfo& in, v1::CollectionInfo* out);
// Unknown enums of a newer server read as the defaults.
CollectionInfo FromProto(const v1::CollectionInfo& in);

// Sparse vectors (as given: the database checks and sorts them).
SparseVector FromProto(const v1::SparseVector& in);
void ToProto(const SparseVector& in, v1::SparseVector* out);

// BM25 settings; unset fields take the defaults of Bm25Config.
Bm25Config FromProto(const v1::Bm25Config& in);
void ToProto(const Bm25Config& in, v1::Bm25Config* out);

// Points.
std::vector<Point> FromProto(
    const google::protobuf::RepeatedPtrField<v1::Point>& in);
void ToProto(Point&& in, v1::Point* out);
// UpdateVectors' points (no payloads).
std::vector<Point> FromProto(
    const google::protobuf::RepeatedPtrField<v1::PointVector>& in);
// id, the vector when it has one, the payload.
void ToProto(Record&& in, v1::ScoredPoint* out);
void ToProto(const Neighbor& in, v1::ScoredPoint* out);

// Search: limit and params <-> QueryOptions. A request's zero nprobe and
// oversampling keep the defaults; an nprobe above the collection's nlist is
// clamped by the database (as in process). `cancelled` and `info` are the
// server's. The filter is rpc/filter_convert.h's (OptionalFilter): it can
// fail.
QueryOptions FromProto(const v1::SearchRequest& in);
// Whether the request searches by example (ids or vectors).
bool IsByExample(const v1::SearchRequest& in);
// Whether the request searches sparse vectors (a non-empty sparse_vector,
// or a text: ResolveTextQuery makes it one): alone, or with a vector too
// (IsHybrid: the two searches fused).
bool HasSparse(const v1::SearchRequest& in);
bool IsHybrid(const v1::SearchRequest& in);
// Whether the request's scores are better when lower: l2's squared
// distances, unless a recommend strategy scores them (best_score,
// sum_scores: higher is better on every metric) or sparse vectors are
// searched (dot products, or fused scores).
bool LowerIsBetter(const v1::SearchRequest& in, Metric metric);
void ToProto(const QueryOptions& in, v1::SearchRequest* out);
// What a search did: the response's plan and unindexed fields.
void ToProto(const SearchInfo& in, v1::SearchResponse* out);
SearchInfo PlanFromProto(const v1::SearchResponse& in);

// Aliases: the request's actions, in order. InvalidArgument for none, or
// for an action with neither create_alias nor delete_alias.
absl::StatusOr<std::vector<AliasChange>> FromProto(
    const v1::UpdateAliasesRequest& in);
// alias -> collection as a ListAliases answer: those of `collection` only
// unless it is empty.
void ToProto(const std::map<std::string, std::string>& aliases,
             const std::string& collection, v1::ListAliasesResponse* out);

// Scrolls (the filter converted too; the request validated), both ways.
absl::StatusOr<ScrollOptions> FromProto(const v1::ScrollRequest& in);
void ToProto(const ScrollOptions& in, v1::ScrollRequest* out);
void ToProto(ScrollPage&& in, bool ordered, v1::ScrollResponse* out);
ScrollPage FromProto(const v1::ScrollResponse& in);

// Payload indexes.
void ToProto(const FieldIndexInfo& in, v1::PayloadIndexInfo* out);
FieldIndexInfo FromProto(const v1::PayloadIndexInfo& in);

// Facet counts.
void ToProto(const FacetHit& in, v1::FacetHit* out);
FacetHit FromProto(const v1::FacetHit& in);

}  // namespace tqdb

#endif  // TQDB_RPC_CONVERT_H_
