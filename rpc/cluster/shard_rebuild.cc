// ShardReplica's catch-up without the log (shard_replica.h): when retention
// dropped entries the replica needs, it takes the most advanced copy its
// shard's other replicas hold.
#include <algorithm>
#include <iostream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "quant/status_macros.h"
#include "rpc/cluster/log_line.h"
#include "rpc/cluster/shard_replica.h"

namespace tqdb {
namespace cluster {

bool ShardReplica::rebuilding() const {
  absl::MutexLock lock(&mu_);
  return rebuilding_;
}

int ShardReplica::rebuilds() const {
  absl::MutexLock lock(&mu_);
  return rebuilds_;
}

absl::Status ShardReplica::CatchUpFromPeer(uint64_t first_sequence) {
  const uint64_t applied = local_->applied_sequence();
  const std::string gap =
      absl::StrCat("the stream's oldest entry is ", first_sequence,
                   " but this replica needs entries from ", applied + 1,
                   " (retention dropped them)");
  if (!peer_copy_) {
    return absl::FailedPreconditionError(
        absl::StrCat(gap, ": it cannot catch up from the log"));
  }
  absl::StatusOr<std::unique_ptr<ShardCopy>> copy = peer_copy_(spec_, applied);
  if (!copy.ok()) {
    return WithContext(copy.status(), gap,
                       "; no other replica's copy to take yet");
  }
  if (*copy == nullptr) {
    // (After a rebuild that failed midway too: nothing better exists.)
    {
      absl::MutexLock lock(&mu_);
      rebuilding_ = false;
    }
    LogLine(absl::StrCat("collection '", spec_.collection, "' shard ",
                         spec_.shard, ": ", gap,
                         "; no other replica holds more: applying from the "
                         "stream's oldest entry"));
    return absl::OkStatus();
  }
  return WithContext(Rebuild(copy->get()), gap, "; taking a copy at sequence ",
                     (*copy)->applied_sequence());
}

absl::Status ShardReplica::Rebuild(ShardCopy* copy) {
  if (copy->applied_sequence() <= local_->applied_sequence()) {
    return absl::InternalError("the copy holds no more than this replica");
  }
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::CancelledError("the replica is stopping");
    copy_ = copy;
    rebuilding_ = true;
  }
  LogLine(absl::StrCat(
      "collection '", spec_.collection, "' shard ", spec_.shard,
      ": replacing its points (applied sequence ", local_->applied_sequence(),
      ") with another replica's copy at ", copy->applied_sequence()));
  uint64_t points = 0;
  absl::Status s = [&]() -> absl::Status {
    // First: a crash from here on leaves a collection that claims no part
    // of the log (applied 0), which replays the log from its start or
    // takes a copy again, whatever part of the old points or of the copy it
    // holds.
    TQ_RETURN_IF_ERROR(local_->ForgetLogged());
    TQ_RETURN_IF_ERROR(ClearLocal());
    // The copy's payload indexes (before its points: they are indexed as
    // they come).
    std::set<std::string> wanted;
    for (const FieldIndexInfo& f : copy->field_indexes()) {
      wanted.insert(f.field);
      absl::Status made =
          local_->CreateFieldIndex(f.field, f.type, false).status();
      if (absl::IsAlreadyExists(made)) {  // of another type
        TQ_RETURN_IF_ERROR(local_->DeleteFieldIndex(f.field));
        made = local_->CreateFieldIndex(f.field, f.type, false).status();
      }
      TQ_RETURN_IF_ERROR(made);
    }
    TQ_ASSIGN_OR_RETURN(CollectionInfo info, local_->Info());
    for (const FieldIndexInfo& f : info.field_indexes) {
      if (!wanted.count(f.field)) {
        TQ_RETURN_IF_ERROR(local_->DeleteFieldIndex(f.field));
      }
    }
    for (;;) {
      if (Stopping()) return absl::CancelledError("the replica is stopping");
      TQ_ASSIGN_OR_RETURN(std::vector<Point> page, copy->Next());
      if (page.empty()) break;
      TQ_RETURN_IF_ERROR(local_->Upsert(page, false));
      points += page.size();
    }
    // Last: from here on the collection holds the copy's entries.
    return local_->SkipLogged(copy->applied_sequence());
  }();
  {
    absl::MutexLock lock(&mu_);
    copy_ = nullptr;
    applied_ = local_->applied_sequence();
    if (!s.ok()) return s;  // still rebuilding: the next session copies again
    rebuilding_ = false;
    ++rebuilds_;
  }
  LogLine(absl::StrCat("collection '", spec_.collection, "' shard ",
                       spec_.shard, ": took ", points, " points at sequence ",
                       copy->applied_sequence()));
  return absl::OkStatus();
}

absl::Status ShardReplica::ClearLocal() {
  // The replica is the collection's only writer: pages of ids in order
  // (each from past the last, not over the deleted ones again).
  constexpr uint32_t kPage = 4096;
  ScrollOptions o;
  o.limit = std::min<uint32_t>(
      kPage, static_cast<uint32_t>(std::max<size_t>(1, spec_.max_batch)));
  o.with_payload = false;
  for (;;) {
    TQ_ASSIGN_OR_RETURN(ScrollPage page, local_->Scroll(o));
    std::vector<uint64_t> ids;
    ids.reserve(page.points.size());
    for (const Record& r : page.points) ids.push_back(r.id);
    if (!ids.empty()) {
      TQ_RETURN_IF_ERROR(local_->Delete(ids, false).status());
    }
    if (!page.has_next) return absl::OkStatus();
    o.offset = page.next_offset;
  }
}

}  // namespace cluster
}  // namespace tqdb
