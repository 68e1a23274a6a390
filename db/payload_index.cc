#include "db/payload_index.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "db/allowed_from_bitmap.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace dbimpl {

absl::Status PayloadIndex::AddField(const std::string& field, FieldType type,
                                    bool ready) {
  TQ_ASSIGN_OR_RETURN(JsonPath path, JsonPath::Parse(field));
  absl::MutexLock l(&mu_);
  if (fields_.count(field)) {
    return absl::AlreadyExistsError(
        absl::StrCat("field '", field, "' already has an index"));
  }
  Slot& s = fields_[field];
  s.index = std::make_unique<FieldIndex>(field, std::move(path), type);
  s.ready = ready;
  return absl::OkStatus();
}

void PayloadIndex::DropField(const std::string& field) {
  absl::MutexLock l(&mu_);
  fields_.erase(field);
}

void PayloadIndex::MarkReady(const std::string& field) {
  absl::MutexLock l(&mu_);
  auto it = fields_.find(field);
  if (it != fields_.end()) it->second.ready = true;
}

std::vector<FieldIndexState> PayloadIndex::Fields() const {
  absl::ReaderMutexLock l(&mu_);
  std::vector<FieldIndexState> out;
  for (const auto& [field, s] : fields_) {
    FieldIndexState st;
    st.field = field;
    st.type = s.index->type();
    st.ready = s.ready;
    st.points = s.index->points();
    st.memory_bytes = s.index->MemoryBytes();
    out.push_back(std::move(st));
  }
  return out;
}

std::vector<std::pair<std::string, FieldType>> PayloadIndex::Schema() const {
  absl::ReaderMutexLock l(&mu_);
  std::vector<std::pair<std::string, FieldType>> out;
  out.reserve(fields_.size());
  for (const auto& [field, s] : fields_) {
    out.emplace_back(field, s.index->type());
  }
  return out;
}

std::vector<std::string> PayloadIndex::TopLevelKeys() const {
  absl::ReaderMutexLock l(&mu_);
  std::vector<std::string> out;
  for (const auto& [field, s] : fields_) {
    out.push_back(s.index->path().first_member());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool PayloadIndex::TypeOf(const std::string& field, FieldType* type) const {
  absl::ReaderMutexLock l(&mu_);
  auto it = fields_.find(field);
  if (it == fields_.end()) return false;
  *type = it->second.index->type();
  return true;
}

std::vector<FieldValues> PayloadIndex::Extract(
    const nlohmann::json* payload) const {
  absl::ReaderMutexLock l(&mu_);
  std::vector<FieldValues> out;
  out.reserve(fields_.size());
  for (const auto& [field, s] : fields_) {
    out.push_back(ExtractField(payload, s.index->path(), s.index->type()));
  }
  return out;
}

std::vector<std::vector<FieldValues>> PayloadIndex::Current(
    const std::vector<uint64_t>& ids) const {
  absl::ReaderMutexLock l(&mu_);
  std::vector<std::vector<FieldValues>> out(ids.size());
  if (fields_.empty()) return out;
  for (size_t i = 0; i < ids.size(); ++i) {
    const uint32_t iid = ids_.Find(ids[i]);
    out[i].reserve(fields_.size());
    for (const auto& [field, s] : fields_) {
      out[i].push_back(iid == kNoIid ? FieldValues() : s.index->Get(iid));
    }
  }
  return out;
}

std::vector<uint32_t> PayloadIndex::Upsert(
    const std::vector<uint64_t>& ids,
    const std::vector<std::vector<FieldValues>>& values) {
  absl::MutexLock l(&mu_);
  std::vector<uint32_t> iids(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const uint32_t iid = ids_.Assign(ids[i]);
    iids[i] = iid;
    live_.add(iid);
    size_t f = 0;
    for (auto& [field, s] : fields_) {
      if (f < values[i].size()) {
        s.index->Set(iid, values[i][f]);
      } else {
        s.index->Clear(iid);
      }
      ++f;
    }
  }
  return iids;
}

void PayloadIndex::SetField(const std::string& field,
                            const std::vector<uint64_t>& ids,
                            const std::vector<FieldValues>& values) {
  absl::MutexLock l(&mu_);
  auto it = fields_.find(field);
  if (it == fields_.end()) return;
  for (size_t i = 0; i < ids.size(); ++i) {
    const uint32_t iid = ids_.Find(ids[i]);
    if (iid != kNoIid) it->second.index->Set(iid, values[i]);
  }
}

void PayloadIndex::Erase(const std::vector<uint64_t>& ids) {
  absl::MutexLock l(&mu_);
  for (uint64_t id : ids) {
    const uint32_t iid = ids_.Find(id);
    if (iid == kNoIid) continue;
    for (auto& [field, s] : fields_) s.index->Clear(iid);
    live_.remove(iid);
    ids_.Release(id);
  }
}

void PayloadIndex::EndWrite() {
  absl::MutexLock l(&mu_);
  ids_.EndWrite();
}

uint32_t PayloadIndex::LoadPoint(uint64_t id) {
  absl::MutexLock l(&mu_);
  const uint32_t iid = ids_.Assign(id);
  live_.add(iid);
  return iid;
}

absl::Status PayloadIndex::LoadValues(const std::string& field, uint64_t id,
                                      const FieldValues& values) {
  absl::MutexLock l(&mu_);
  auto it = fields_.find(field);
  const uint32_t iid = ids_.Find(id);
  if (it == fields_.end() || iid == kNoIid) {
    return absl::NotFoundError(
        absl::StrCat("point ", id, " or field '", field, "' is unknown"));
  }
  it->second.index->Merge(iid, values);
  return absl::OkStatus();
}

std::shared_ptr<const void> PayloadIndex::Pin() const {
  absl::ReaderMutexLock l(&mu_);
  return ids_.Pin();
}

uint32_t PayloadIndex::Find(uint64_t id) const {
  absl::ReaderMutexLock l(&mu_);
  return ids_.Find(id);
}

uint32_t PayloadIndex::universe() const {
  absl::ReaderMutexLock l(&mu_);
  return ids_.universe();
}

uint64_t PayloadIndex::size() const {
  absl::ReaderMutexLock l(&mu_);
  return ids_.size();
}

absl::StatusOr<FilterResult> PayloadIndex::Evaluate(
    std::shared_ptr<const Filter> filter) const {
  absl::ReaderMutexLock l(&mu_);
  IndexView view;
  view.ids = &ids_;
  view.live = &live_;
  view.field = [this](const std::string& field) -> const FieldIndex* {
    mu_.AssertReaderHeld();
    auto it = fields_.find(field);
    if (it == fields_.end() || !it->second.ready) return nullptr;
    return it->second.index.get();
  };
  return FilterResult::Evaluate(std::move(filter), view);
}

absl::StatusOr<const FieldIndex*> PayloadIndex::IndexFor(
    const std::string& field, std::initializer_list<FieldType> types,
    const char* needs) const {
  auto it = fields_.find(field);
  if (it == fields_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("field '", field, "' has no payload index; ", needs,
                     ": create one first"));
  }
  const FieldType type = it->second.index->type();
  if (std::find(types.begin(), types.end(), type) == types.end()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "field '", field, "' has a ", FieldTypeName(type), " index; ", needs));
  }
  if (!it->second.ready) {
    return absl::UnavailableError(
        absl::StrCat("the index of field '", field,
                     "' is being built: try again once it is ready"));
  }
  return it->second.index.get();
}

absl::StatusOr<std::vector<FacetHit>> PayloadIndex::Facet(
    const std::string& field, const Roaring* among) const {
  absl::ReaderMutexLock l(&mu_);
  TQ_ASSIGN_OR_RETURN(
      const FieldIndex* index,
      IndexFor(field,
               {FieldType::kKeyword, FieldType::kInteger, FieldType::kBool},
               "facet counts need a keyword, integer or bool one"));
  return index->Facet(among);
}

absl::StatusOr<std::vector<PayloadIndex::OrderedEntry>> PayloadIndex::Ordered(
    const OrderBy& o, uint64_t offset, const Roaring* among, size_t n) const {
  absl::ReaderMutexLock l(&mu_);
  TQ_ASSIGN_OR_RETURN(
      const FieldIndex* index,
      IndexFor(o.key,
               {FieldType::kInteger, FieldType::kFloat, FieldType::kDatetime},
               "order_by needs an integer, float or datetime "
               "one"));
  // before(a, b): a is listed before b.
  auto before = [&o](const OrderedEntry& a, const OrderedEntry& b) {
    if (a.value != b.value) {
      return o.descending ? a.value > b.value : a.value < b.value;
    }
    return a.id < b.id;
  };
  // At or past the cursor.
  auto listed = [&](const OrderedEntry& e) {
    return !o.start_from || !before(e, OrderedEntry{*o.start_from, offset});
  };
  std::vector<OrderedEntry> out;
  // The page from the sorted structure, bucket by bucket from the cursor,
  // reads about n * points / matches pairs; sorting the matches' values
  // reads each match: the walk unless the filter keeps under
  // sqrt(n * points) of them (a few matches spread over many buckets).
  const uint64_t points = index->typed_points();
  const uint64_t matches = among == nullptr ? points : among->cardinality();
  if (static_cast<double>(matches) * static_cast<double>(matches) >=
      static_cast<double>(n) * static_cast<double>(points)) {
    std::vector<OrderedEntry> bucket;
    index->WalkNumbers(
        o.descending, o.start_from, among,
        [&](const std::vector<std::pair<double, uint32_t>>& pairs) {
          bucket.clear();
          for (const auto& [value, iid] : pairs) {
            const OrderedEntry e{value, ids_.ExternalId(iid)};
            if (listed(e)) bucket.push_back(e);
          }
          std::sort(bucket.begin(), bucket.end(), before);
          for (const OrderedEntry& e : bucket) {
            if (out.size() == n) break;
            out.push_back(e);
          }
          return out.size() < n;
        });
    return out;
  }
  for (const auto& [value, iid] : index->Numbers(among)) {
    const OrderedEntry e{value, ids_.ExternalId(iid)};
    if (listed(e)) out.push_back(e);
  }
  if (n < out.size()) {
    std::partial_sort(out.begin(), out.begin() + n, out.end(), before);
    out.resize(n);
  } else {
    std::sort(out.begin(), out.end(), before);
  }
  return out;
}

AllowedSet PayloadIndex::ToAllowed(const Roaring& ids) const {
  return AllowedFromBitmap(ids, universe());
}

std::vector<uint64_t> PayloadIndex::ExternalIds(const Roaring& ids) const {
  absl::ReaderMutexLock l(&mu_);
  std::vector<uint64_t> out;
  out.reserve(ids.cardinality());
  for (uint32_t iid : ids) {
    if (iid < ids_.universe()) out.push_back(ids_.ExternalId(iid));
  }
  return out;
}

size_t PayloadIndex::BaseMemoryBytes() const {
  absl::ReaderMutexLock l(&mu_);
  return ids_.MemoryBytes() + live_.getSizeInBytes(false);
}

}  // namespace dbimpl
}  // namespace tqdb
