#include "rpc/payload_selection.h"

#include <string>
#include <unordered_map>
#include <vector>

#include "db/payload_select.h"
#include "quant/status_macros.h"
#include "rpc/convert.h"

namespace tqdb {

namespace {

bool Selects(const v1::PayloadSelector& s) {
  return s.include_size() > 0 || s.exclude_size() > 0;
}

}  // namespace

absl::StatusOr<PayloadSelector> PayloadSelectorOf(
    const v1::PayloadSelector& s) {
  const std::vector<std::string> include(s.include().begin(),
                                         s.include().end());
  const std::vector<std::string> exclude(s.exclude().begin(),
                                         s.exclude().end());
  return PayloadSelector::Make(include, exclude,
                               {"payload_selector.", "payload_selector: "});
}

absl::Status ValidatePayloadSelector(const v1::PayloadSelector& selector,
                                     bool with_payload) {
  if (!Selects(selector)) return absl::OkStatus();
  if (!with_payload) {
    return absl::InvalidArgumentError(
        "payload_selector needs with_payload: it selects parts of the "
        "payloads a read returns");
  }
  return PayloadSelectorOf(selector).status();
}

absl::Status SelectPayloads(
    const v1::PayloadSelector& selector,
    google::protobuf::RepeatedPtrField<v1::ScoredPoint>* points) {
  if (!Selects(selector) || points->empty()) return absl::OkStatus();
  TQ_ASSIGN_OR_RETURN(const PayloadSelector s, PayloadSelectorOf(selector));
  SelectPayloads(s, points);
  return absl::OkStatus();
}

void SelectPayloads(
    const PayloadSelector& selector,
    google::protobuf::RepeatedPtrField<v1::ScoredPoint>* points) {
  if (selector.selects_all()) return;
  for (v1::ScoredPoint& p : *points) {
    if (!p.payload().empty()) p.set_payload(selector.Apply(p.payload()));
  }
}

absl::Status AttachRecords(
    const Collection& c, bool with_vectors, bool with_payload,
    const v1::PayloadSelector& selector,
    google::protobuf::RepeatedPtrField<v1::ScoredPoint>* hits) {
  if (hits->empty() || !(with_vectors || with_payload)) {
    return absl::OkStatus();
  }
  std::vector<uint64_t> ids;
  ids.reserve(hits->size());
  for (const v1::ScoredPoint& p : *hits) ids.push_back(p.id());
  TQ_ASSIGN_OR_RETURN(std::vector<Record> recs,
                      c.Get(ids, with_vectors, with_payload));
  std::unordered_map<uint64_t, Record*> by_id;
  for (Record& r : recs) by_id[r.id] = &r;
  for (v1::ScoredPoint& p : *hits) {
    auto it = by_id.find(p.id());
    if (it != by_id.end()) ToProto(std::move(*it->second), &p);
  }
  return with_payload ? SelectPayloads(selector, hits) : absl::OkStatus();
}

}  // namespace tqdb
