// CollectionImpl's filters: a filter validated (db/query.h) and turned into
// its matching points (db/filter_eval.h: the payload indexes, then the
// payloads of the candidates for conditions without a ready index), and
// what uses them beside search: Count, Facet, Scroll, DeletePoints.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "db/db_impl.h"
#include "db/facet.h"
#include "db/query.h"
#include "db/rocks_util.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace dbimpl {

using dbformat::IdmapKey;
using dbformat::PointKey;
using dbformat::Prefix;

namespace {

// Candidates whose payloads are read by key; more are read by one scan of
// the collection's payloads.
constexpr size_t kPayloadChunk = 1024;

double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - t0)
      .count();
}

}  // namespace

absl::Status CollectionImpl::CheckFilter(const Filter& filter) const {
  return dbimpl::CheckFilter(filter,
                             [this](const std::string& key, FieldType* type) {
                               return payload_index_.TypeOf(key, type);
                             });
}

absl::StatusOr<CollectionImpl::Matches> CollectionImpl::Match(
    std::shared_ptr<const Filter> filter) const {
  const auto t0 = std::chrono::steady_clock::now();
  TQ_RETURN_IF_ERROR(CheckFilter(*filter));
  Matches m;
  m.pin = payload_index_.Pin();
  TQ_ASSIGN_OR_RETURN(m.result, payload_index_.Evaluate(std::move(filter)));
  if (!m.result.complete()) {
    TQ_RETURN_IF_ERROR(DecideFromPayloads(&m.result));
  }
  m.ms = MsSince(t0);
  return m;
}

absl::Status CollectionImpl::DecideFromPayloads(FilterResult* r) const {
  const auto& cand = r->candidates();
  auto decide = [&](size_t i, absl::string_view bytes) {
    if (bytes.empty()) {
      r->Decide(i, nullptr);
      return;
    }
    const nlohmann::json j = nlohmann::json::parse(bytes, nullptr, false);
    r->Decide(i, j.is_discarded() ? nullptr : &j);
  };
  if (cand.size() <= kPayloadChunk * 4 || cand.size() * 4 < count_.load()) {
    std::vector<std::string> keys;
    std::vector<rocksdb::PinnableSlice> vals;
    std::vector<bool> found;
    for (size_t at = 0; at < cand.size(); at += kPayloadChunk) {
      const size_t m = std::min(kPayloadChunk, cand.size() - at);
      keys.resize(m);
      for (size_t i = 0; i < m; ++i) {
        keys[i] = PointKey(cid_, cand[at + i].second);
      }
      TQ_RETURN_IF_ERROR(MultiGet(core_->db, rocksdb::ReadOptions(),
                                  core_->payload(), keys, &vals, &found,
                                  core_->dir + ": payload"));
      for (size_t i = 0; i < m; ++i) {
        decide(at + i, found[i] ? ToStringView(vals[i]) : "");
      }
    }
  } else {
    // Most of the collection: one scan of its payloads, in id order.
    absl::flat_hash_map<uint64_t, size_t> at;
    at.reserve(cand.size());
    for (size_t i = 0; i < cand.size(); ++i) at[cand[i].second] = i;
    std::vector<bool> done(cand.size(), false);
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;
    ro.readahead_size = size_t{2} << 20;
    RangeIterator it(core_->db, core_->payload(), ro, Prefix(cid_),
                     Prefix(cid_ + 1));
    for (; it->Valid(); it->Next()) {
      if (it->key().size() != dbformat::kPointKeySize) {
        return absl::DataLossError(
            absl::StrCat(core_->dir, ": column family 'payload' has a key of ",
                         it->key().size(), " bytes"));
      }
      auto f = at.find(dbformat::GetBig64(it->key().data() + 4));
      if (f == at.end()) continue;
      decide(f->second, ToStringView(it->value()));
      done[f->second] = true;
    }
    TQ_RETURN_IF_ERROR(FromRocks(it->status(), core_->dir + ": payload"));
    for (size_t i = 0; i < cand.size(); ++i) {
      if (!done[i]) decide(i, "");  // no payload
    }
  }
  r->Finish();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint64_t>> CollectionImpl::SelectIds(
    const PointSelector& points) const {
  if ((points.filter != nullptr) == !points.ids.empty()) {
    return absl::InvalidArgumentError(
        "select points by ids or by a filter (exactly one of the two)");
  }
  if (points.filter == nullptr) {
    std::vector<uint64_t> ids;
    absl::flat_hash_set<uint64_t> seen;
    for (uint64_t id : points.ids) {
      if (seen.insert(id).second) ids.push_back(id);
    }
    // A filter's matches are applied in chunks of max_filter_batch; ids
    // the caller lists are one request, bounded like an upsert's.
    if (ids.size() > core_->options.max_batch) {
      return absl::ResourceExhaustedError(
          absl::StrCat("batch of ", ids.size(), " ids exceeds max_batch ",
                       core_->options.max_batch));
    }
    return ids;
  }
  TQ_ASSIGN_OR_RETURN(Matches m, Match(points.filter));
  std::vector<uint64_t> ids = payload_index_.ExternalIds(m.result.ids());
  std::sort(ids.begin(), ids.end());
  return ids;
}

absl::StatusOr<CountResult> CollectionImpl::Count(const Filter& filter) const {
  TQ_LIFE_GUARD();
  TQ_ASSIGN_OR_RETURN(Matches m, Match(std::make_shared<const Filter>(filter)));
  CountResult c;
  c.count = m.result.ids().cardinality();
  c.unindexed_fields = m.result.unindexed_fields();
  return UnlessDropped<CountResult>(std::move(c));
}

absl::StatusOr<FacetResult> CollectionImpl::Facet(const FacetOptions& o) const {
  TQ_LIFE_GUARD();
  FacetResult r;
  if (o.filter == nullptr) {
    TQ_ASSIGN_OR_RETURN(r.hits, payload_index_.Facet(o.key, nullptr));
  } else {
    TQ_ASSIGN_OR_RETURN(Matches m, Match(o.filter));
    TQ_ASSIGN_OR_RETURN(r.hits, payload_index_.Facet(o.key, &m.result.ids()));
    r.unindexed_fields = m.result.unindexed_fields();
  }
  TopFacetHits(o.limit, &r.hits);
  return UnlessDropped<FacetResult>(std::move(r));
}

absl::StatusOr<ScrollPage> CollectionImpl::Scroll(
    const ScrollOptions& o) const {
  TQ_LIFE_GUARD();
  if (o.limit == 0) return absl::InvalidArgumentError("limit must be >= 1");
  if (o.order_by) return OrderedScroll(o);
  ScrollPage page;
  std::vector<uint64_t> ids;  // the page's, and one more if there is one
  if (o.filter != nullptr) {
    TQ_ASSIGN_OR_RETURN(Matches m, Match(o.filter));
    page.unindexed_fields = m.result.unindexed_fields();
    std::vector<uint64_t> all = payload_index_.ExternalIds(m.result.ids());
    all.erase(std::remove_if(all.begin(), all.end(),
                             [&](uint64_t id) { return id < o.offset; }),
              all.end());
    const size_t want = std::min<size_t>(all.size(), size_t{o.limit} + 1);
    std::partial_sort(all.begin(), all.begin() + want, all.end());
    ids.assign(all.begin(), all.begin() + want);
  } else {
    uint32_t g;
    const rocksdb::Snapshot* snap;
    {
      absl::ReaderMutexLock l(&state_mu_);
      g = state_.generation;
      snap = core_->db->GetSnapshot();
    }
    SnapshotGuard guard(core_->db, snap);
    rocksdb::ReadOptions ro;
    ro.snapshot = snap;
    RangeIterator it(core_->db, core_->idmap(), ro, IdmapKey(cid_, g, o.offset),
                     dbformat::GenPrefix(cid_, g + 1));
    for (; it->Valid() && ids.size() <= o.limit; it->Next()) {
      if (it->key().size() != dbformat::kIdmapKeySize) {
        return absl::DataLossError(
            absl::StrCat(core_->dir, ": column family 'idmap' has a key of ",
                         it->key().size(), " bytes"));
      }
      ids.push_back(dbformat::GetBig64(it->key().data() + 8));
    }
    TQ_RETURN_IF_ERROR(FromRocks(it->status(), core_->dir + ": idmap"));
  }
  if (ids.size() > o.limit) {
    page.has_next = true;
    page.next_offset = ids.back();
    ids.pop_back();
  }
  TQ_ASSIGN_OR_RETURN(page.points,
                      GetRecords(ids, o.with_vectors, o.with_payload));
  return UnlessDropped<ScrollPage>(std::move(page));
}

absl::StatusOr<ScrollPage> CollectionImpl::OrderedScroll(
    const ScrollOptions& o) const {
  const OrderBy& order = *o.order_by;
  if (order.key.empty()) {
    return absl::InvalidArgumentError(
        "order_by.key is empty (a field with an integer, float or datetime "
        "index)");
  }
  if (order.start_from && !std::isfinite(*order.start_from)) {
    return absl::InvalidArgumentError("order_by.start_from is not finite");
  }
  ScrollPage page;
  std::optional<Matches> m;
  if (o.filter != nullptr) {
    TQ_ASSIGN_OR_RETURN(m, Match(o.filter));
    page.unindexed_fields = m->result.unindexed_fields();
  }
  TQ_ASSIGN_OR_RETURN(
      std::vector<PayloadIndex::OrderedEntry> entries,
      payload_index_.Ordered(order, o.offset, m ? &m->result.ids() : nullptr,
                             size_t{o.limit} + 1));
  if (entries.size() > o.limit) {
    page.has_next = true;
    page.next_offset = entries.back().id;
    page.next_order_value = entries.back().value;
    entries.pop_back();
  }
  std::vector<uint64_t> ids;
  for (const auto& e : entries) ids.push_back(e.id);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  TQ_ASSIGN_OR_RETURN(std::vector<Record> records,
                      GetRecords(ids, o.with_vectors, o.with_payload));
  absl::flat_hash_map<uint64_t, const Record*> by_id;
  for (const Record& r : records) by_id[r.id] = &r;
  for (const auto& e : entries) {
    auto it = by_id.find(e.id);
    if (it == by_id.end()) continue;  // deleted meanwhile
    page.points.push_back(*it->second);
    page.points.back().order_value = e.value;
  }
  return UnlessDropped<ScrollPage>(std::move(page));
}

absl::StatusOr<size_t> CollectionImpl::DeletePoints(const PointSelector& points,
                                                    bool wait) {
  TQ_LIFE_GUARD();
  // Under the write lock: the filter's matches are the points deleted.
  absl::MutexLock wl(&write_mu_);
  if (dropped_) return DroppedError();
  TQ_ASSIGN_OR_RETURN(std::vector<uint64_t> ids, SelectIds(points));
  const size_t chunk = std::max<size_t>(1, core_->options.max_filter_batch);
  size_t deleted = 0;
  for (size_t at = 0; at < ids.size(); at += chunk) {
    const std::vector<uint64_t> part(
        ids.begin() + at, ids.begin() + std::min(ids.size(), at + chunk));
    TQ_ASSIGN_OR_RETURN(size_t n, DeleteLocked(part, wait, 0));
    deleted += n;
  }
  return deleted;
}

}  // namespace dbimpl
}  // namespace tqdb
