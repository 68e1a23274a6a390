// A request's PayloadSelector (tqdb.v1.PayloadSelector, db/payload_select.h)
// at the gRPC layer: its rule beside the other request rules, and the
// hits' records read through it (Search, SearchBatch, Get, Scroll, search
// groups, on a single server and a cluster's nodes and shards).
#ifndef TQDB_RPC_PAYLOAD_SELECTION_H_
#define TQDB_RPC_PAYLOAD_SELECTION_H_

#include "absl/status/status.h"
#include "db/db.h"
#include "db/payload_select.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "tqdb/v1/points.pb.h"

namespace tqdb {

// INVALID_ARGUMENT naming the field: "payload_selector.include[1]:
// malformed path ...", or a selector without with_payload.
absl::Status ValidatePayloadSelector(const v1::PayloadSelector& selector,
                                     bool with_payload);

// Each point's payload through the selector (validated before).
absl::Status SelectPayloads(
    const v1::PayloadSelector& selector,
    google::protobuf::RepeatedPtrField<v1::ScoredPoint>* points);
// The same with the selector read once, for several lists of points.
absl::StatusOr<PayloadSelector> PayloadSelectorOf(
    const v1::PayloadSelector& selector);
void SelectPayloads(
    const PayloadSelector& selector,
    google::protobuf::RepeatedPtrField<v1::ScoredPoint>* points);

// The vectors and payloads (through the selector) of hits, as asked, read
// from c by id; a hit deleted since its search is left bare.
absl::Status AttachRecords(
    const Collection& c, bool with_vectors, bool with_payload,
    const v1::PayloadSelector& selector,
    google::protobuf::RepeatedPtrField<v1::ScoredPoint>* hits);

}  // namespace tqdb

#endif  // TQDB_RPC_PAYLOAD_SELECTION_H_
