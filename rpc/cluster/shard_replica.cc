#include "rpc/cluster/shard_replica.h"

#include <algorithm>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "quant/status_macros.h"
#include "rpc/cluster/log_line.h"
#include "rpc/cluster/log_names.h"
#include "rpc/convert.h"
#include "rpc/filter_convert.h"
#include "tqdb/cluster/v1/cluster.pb.h"

namespace tqdb {
namespace cluster {
namespace {

namespace cpb = ::tqdb::cluster::v1;

constexpr absl::Duration kFetchWait = absl::Milliseconds(500);
constexpr absl::Duration kStallCheck = absl::Seconds(5);
constexpr absl::Duration kFirstBackoff = absl::Milliseconds(100);
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);

// A run of upsert entries applied as one batch.
struct UpsertRun {
  std::vector<Point> points;
  // Each entry's sequence and where its points start in `points`.
  std::vector<std::pair<uint64_t, size_t>> entries;
  bool empty() const { return entries.empty(); }
  uint64_t last() const { return entries.back().first; }
};

// The points an update entry names: its ids, or its filter's matches.
absl::StatusOr<PointSelector> Selector(
    const google::protobuf::RepeatedField<uint64_t>& ids, bool has_filter,
    const ::tqdb::v1::Filter& filter) {
  PointSelector sel;
  sel.ids.assign(ids.begin(), ids.end());
  if (has_filter) {
    TQ_ASSIGN_OR_RETURN(Filter f, FromProto(filter));
    sel.filter = std::make_shared<const Filter>(std::move(f));
  }
  return sel;
}

// Runs an update entry on the shard's collection: the points it changed
// (1 for a field index change).
absl::StatusOr<size_t> RunUpdate(Collection& c, const cpb::LogEntry& entry) {
  switch (entry.op_case()) {
    case cpb::LogEntry::kDeleteFilter: {
      TQ_ASSIGN_OR_RETURN(PointSelector sel,
                          Selector({}, true, entry.delete_filter()));
      return c.DeletePoints(sel, false);
    }
    case cpb::LogEntry::kSetPayload:
    case cpb::LogEntry::kOverwritePayload: {
      const bool set = entry.has_set_payload();
      const ::tqdb::v1::SetPayloadRequest& r =
          set ? entry.set_payload() : entry.overwrite_payload();
      TQ_ASSIGN_OR_RETURN(PointSelector sel,
                          Selector(r.ids(), r.has_filter(), r.filter()));
      return set ? c.SetPayload(sel, r.payload(), false)
                 : c.OverwritePayload(sel, r.payload(), false);
    }
    case cpb::LogEntry::kDeletePayloadKeys: {
      const ::tqdb::v1::DeletePayloadKeysRequest& r =
          entry.delete_payload_keys();
      TQ_ASSIGN_OR_RETURN(PointSelector sel,
                          Selector(r.ids(), r.has_filter(), r.filter()));
      const std::vector<std::string> keys(r.keys().begin(), r.keys().end());
      return c.DeletePayloadKeys(sel, keys, false);
    }
    case cpb::LogEntry::kCreateFieldIndex: {
      const ::tqdb::v1::CreateFieldIndexRequest& r = entry.create_field_index();
      TQ_ASSIGN_OR_RETURN(FieldType type, FieldTypeFromProto(r.type()));
      TQ_RETURN_IF_ERROR(c.CreateFieldIndex(r.field(), type, false).status());
      return size_t{1};
    }
    case cpb::LogEntry::kDeleteFieldIndex:
      TQ_RETURN_IF_ERROR(
          c.DeleteFieldIndex(entry.delete_field_index().field()));
      return size_t{1};
    case cpb::LogEntry::kUpdateVectors:
      // NotFound (a point this shard does not hold at this place in the
      // log) is every replica's answer alike: nothing written.
      return c.UpdateVectors(FromProto(entry.update_vectors().points()), false);
    default:
      // Not skipped: a newer node's entry this one cannot apply stops the
      // replica (last_error) rather than leaving it diverged.
      return absl::UnimplementedError(
          absl::StrCat("log entry of an unknown kind (op ",
                       static_cast<int>(entry.op_case()),
                       "): written by a newer tqdb? upgrade this node"));
  }
}

// Errors every replica of the shard gives alike for the entry (its
// rejection); others are retried: I/O, a full disk or memory
// (ResourceExhausted: also a batch over this node's max_batch, which the
// writer's limit keeps out unless the nodes' limits differ; then the
// replica waits, saying why in last_error(), rather than diverge). A
// dropped collection's NotFound recurs on SkipLogged and ends the session.
bool Deterministic(const absl::Status& s, const cpb::LogEntry& entry) {
  return absl::IsInvalidArgument(s) || absl::IsFailedPrecondition(s) ||
         absl::IsAlreadyExists(s) || absl::IsOutOfRange(s) ||
         (absl::IsNotFound(s) &&
          (entry.has_delete_field_index() || entry.has_update_vectors()));
}

}  // namespace

ShardReplica::ShardReplica(JetStream* js, ReplicaSpec spec,
                           std::shared_ptr<Collection> local,
                           PeerCopySource peer_copy)
    : js_(js),
      spec_(std::move(spec)),
      local_(std::move(local)),
      peer_copy_(std::move(peer_copy)) {
  {
    absl::MutexLock lock(&mu_);
    applied_ = local_->applied_sequence();
  }
  thread_ = std::thread([this] { Run(); });
}

ShardReplica::~ShardReplica() { Stop(); }

void ShardReplica::Stop() {
  RequestStop();
  if (thread_.joinable()) thread_.join();
}

void ShardReplica::RequestStop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  if (copy_ != nullptr) copy_->Cancel();
}

bool ShardReplica::Stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

bool ShardReplica::AwaitApplied(uint64_t sequence, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto reached = [this, sequence]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return applied_ >= sequence || stopping_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  return applied_ >= sequence;
}

bool ShardReplica::caught_up() const {
  absl::MutexLock lock(&mu_);
  return caught_up_;
}

void ShardReplica::MarkCaughtUp() {
  absl::MutexLock lock(&mu_);
  caught_up_ = true;
}

std::string ShardReplica::last_error() const {
  absl::MutexLock lock(&mu_);
  return last_error_.empty() ? last_skip_ : last_error_;
}

int ShardReplica::sessions() const {
  absl::MutexLock lock(&mu_);
  return sessions_;
}

uint64_t ShardReplica::fetches() const {
  absl::MutexLock lock(&mu_);
  return fetches_;
}

uint64_t ShardReplica::received() const {
  absl::MutexLock lock(&mu_);
  return received_;
}

absl::StatusOr<cpb::ShardWriteResult> ShardReplica::WriteResult(
    uint64_t sequence) const {
  absl::MutexLock lock(&mu_);
  auto it = results_.find(sequence);
  if (it == results_.end()) {
    return absl::NotFoundError(
        absl::StrCat("collection '", spec_.collection, "' shard ", spec_.shard,
                     ": no result of log entry ", sequence, " here (applied ",
                     applied_, ")"));
  }
  return it->second;
}

absl::Status ShardReplica::ApplyUpdate(uint64_t sequence,
                                       const cpb::LogEntry& entry) {
  const absl::StatusOr<size_t> r = RunUpdate(*local_, entry);
  // A rejection is the writer's answer (WriteResult), not the replica's
  // trouble: not in last_error().
  if (!r.ok() && !Deterministic(r.status(), entry)) return r.status();
  TQ_RETURN_IF_ERROR(local_->SkipLogged(sequence));
  cpb::ShardWriteResult result;
  if (r.ok()) {
    result.set_changed(*r);
  } else {
    result.set_code(static_cast<int32_t>(r.status().code()));
    // The collection as the client names it, not the replica's local one.
    result.set_message(absl::StrReplaceAll(
        r.status().message(),
        {{absl::StrCat("collection '", local_->config().name, "'"),
          absl::StrCat("collection '", spec_.collection, "'")}}));
  }
  absl::MutexLock lock(&mu_);
  results_[sequence] = std::move(result);
  while (results_.size() > kWriteResults) results_.erase(results_.begin());
  return absl::OkStatus();
}

void ShardReplica::NoteSkipped(uint64_t sequence, const absl::Status& why) {
  const std::string text =
      absl::StrCat("collection '", spec_.collection, "' shard ", spec_.shard,
                   ": skipped log entry ", sequence, ": ", why.ToString());
  LogLine(text);
  absl::MutexLock lock(&mu_);
  last_skip_ = text;
}

void ShardReplica::Run() {
  absl::Duration backoff = kFirstBackoff;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      ++sessions_;
    }
    const uint64_t before = local_->applied_sequence();
    const absl::Status s = Session();
    // A session that applied entries ended on a new error: the backoff
    // starts over (a disk that had space again is used at once).
    const bool progressed = local_->applied_sequence() > before;
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    if (!s.ok()) {
      last_error_ = absl::StrCat("collection '", spec_.collection, "' shard ",
                                 spec_.shard, ": ", s.ToString());
      LogLine(last_error_);
    }
    if (progressed) backoff = kFirstBackoff;
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

absl::Status ShardReplica::Session() {
  const std::string stream = StreamName(spec_.collection);
  const std::string durable = ConsumerName(spec_.node_id, spec_.shard);
  TQ_ASSIGN_OR_RETURN(StreamState state, js_->GetStreamState(stream));
  // (An empty stream whose entries all expired starts past its last.)
  if (state.first_sequence > local_->applied_sequence() + 1) {
    TQ_RETURN_IF_ERROR(CatchUpFromPeer(state.first_sequence));
  }
  // (Below the stream's oldest entry after CatchUpFromPeer: the consumer
  // starts at that entry.)
  const uint64_t from = local_->applied_sequence() + 1;
  TQ_RETURN_IF_ERROR(PullConsumer::Delete(js_, stream, durable));
  ConsumerConfig c;
  c.stream = stream;
  c.durable = durable;
  c.filter_subject = ShardSubject(spec_.collection, spec_.shard);
  c.start_sequence = from;
  c.ack_all = true;
  TQ_ASSIGN_OR_RETURN(std::unique_ptr<PullConsumer> consumer,
                      PullConsumer::Create(js_, c));
  if (from > 1 || sessions() > 1) {
    LogLine(absl::StrCat("collection '", spec_.collection, "' shard ",
                         spec_.shard, ": applying from sequence ", from,
                         " (session ", sessions(), ")"));
  }
  uint64_t last_consumer = 0;
  absl::Time last_delivery = absl::Now();
  while (!Stopping()) {
    TQ_ASSIGN_OR_RETURN(std::vector<JsMessage> batch,
                        consumer->Fetch(spec_.fetch_batch, kFetchWait));
    {
      absl::MutexLock lock(&mu_);
      ++fetches_;
      received_ += batch.size();
    }
    if (batch.empty()) {
      // A consumer that holds entries back (lost deliveries, a pull
      // request the server dropped) is replaced rather than waited for.
      if (absl::Now() - last_delivery < kStallCheck) continue;
      last_delivery = absl::Now();
      TQ_ASSIGN_OR_RETURN(ConsumerState st, consumer->State());
      if (st.pending > 0 || st.ack_pending > 0) {
        return absl::AbortedError(absl::StrCat(
            "consumer ", durable, " delivered nothing for ",
            absl::FormatDuration(kStallCheck), " with ", st.pending,
            " entries pending and ", st.ack_pending,
            " unacknowledged; starting over from the applied sequence"));
      }
      continue;
    }
    last_delivery = absl::Now();
    TQ_RETURN_IF_ERROR(Apply(batch, &last_consumer));
    // A lost ack only means a redelivery, skipped as a replay.
    batch.back().AckNoWait().IgnoreError();
    absl::MutexLock lock(&mu_);
    applied_ = local_->applied_sequence();
    last_error_.clear();
  }
  return absl::OkStatus();
}

absl::Status ShardReplica::Apply(const std::vector<JsMessage>& batch,
                                 uint64_t* last_consumer) {
  UpsertRun run;
  // Applies the run as one batch; when a point of it is rejected (nothing
  // was written), entry by entry, skipping the rejected ones.
  auto flush = [&]() -> absl::Status {
    if (run.empty()) return absl::OkStatus();
    if (run.points.size() > spec_.max_batch) {
      // One entry larger than this node's batches (written by a node with
      // a larger max_batch): its chunks, the sequence with the last. A
      // crash between them replays the entry whole; upserts are
      // idempotent.
      const size_t n = run.points.size();
      absl::Status s;
      for (size_t begin = 0; begin < n && s.ok(); begin += spec_.max_batch) {
        const size_t end = std::min(n, begin + spec_.max_batch);
        std::vector<Point> chunk(run.points.begin() + begin,
                                 run.points.begin() + end);
        s = end < n ? local_->Upsert(chunk, false)
                    : local_->UpsertLogged(run.last(), chunk, false);
      }
      if (absl::IsInvalidArgument(s)) {
        NoteSkipped(run.last(), s);
        s = local_->SkipLogged(run.last());
      }
      run = UpsertRun();
      return s;
    }
    absl::Status s = local_->UpsertLogged(run.last(), run.points, false);
    if (absl::IsInvalidArgument(s)) {
      for (size_t i = 0; i < run.entries.size(); ++i) {
        const auto [sequence, begin] = run.entries[i];
        const size_t end = i + 1 < run.entries.size()
                               ? run.entries[i + 1].second
                               : run.points.size();
        std::vector<Point> one(run.points.begin() + begin,
                               run.points.begin() + end);
        s = local_->UpsertLogged(sequence, one, false);
        if (absl::IsInvalidArgument(s)) {
          NoteSkipped(sequence, s);
          s = local_->SkipLogged(sequence);
        }
        if (!s.ok()) break;
      }
    }
    run = UpsertRun();
    return s;
  };
  for (const JsMessage& m : batch) {
    const uint64_t cs = m.consumer_sequence();
    if (*last_consumer != 0 && cs != *last_consumer + 1) {
      TQ_RETURN_IF_ERROR(flush());
      return absl::AbortedError(absl::StrCat(
          "delivery ", *last_consumer + 1, " of consumer ",
          ConsumerName(spec_.node_id, spec_.shard), " never came (got ", cs,
          "); starting over from the applied "
          "sequence"));
    }
    *last_consumer = cs;
    const uint64_t sequence = m.stream_sequence();
    const uint64_t applied =
        run.empty() ? local_->applied_sequence() : run.last();
    if (sequence <= applied) continue;  // a replay
    cpb::LogEntry entry;
    const absl::string_view data = m.data();
    absl::Status bad;
    if (!entry.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
      bad = absl::DataLossError("not a tqdb.cluster.v1.LogEntry");
    } else if (entry.collection_uid() != spec_.uid) {
      bad = absl::FailedPreconditionError(
          absl::StrCat("written for incarnation ", entry.collection_uid(),
                       " of the collection, this is ", spec_.uid));
    }
    if (!bad.ok()) {
      TQ_RETURN_IF_ERROR(flush());
      NoteSkipped(sequence, bad);
      TQ_RETURN_IF_ERROR(local_->SkipLogged(sequence));
      continue;
    }
    if (entry.has_upsert()) {
      const auto& points = entry.upsert().points();
      if (!run.empty() && run.points.size() + points.size() > spec_.max_batch) {
        TQ_RETURN_IF_ERROR(flush());
      }
      run.entries.emplace_back(sequence, run.points.size());
      std::vector<Point> converted = FromProto(points);
      std::move(converted.begin(), converted.end(),
                std::back_inserter(run.points));
      continue;
    }
    TQ_RETURN_IF_ERROR(flush());
    if (!entry.has_delete_()) {
      TQ_RETURN_IF_ERROR(ApplyUpdate(sequence, entry));
      continue;
    }
    const std::vector<uint64_t> ids(entry.delete_().ids().begin(),
                                    entry.delete_().ids().end());
    absl::Status s = local_->DeleteLogged(sequence, ids, false).status();
    // A batch over this node's max_batch is rejected alike; a full disk is
    // not (retried: the entry waits for space).
    if (absl::IsInvalidArgument(s) ||
        (absl::IsResourceExhausted(s) && !IsDiskFull(s))) {
      NoteSkipped(sequence, s);
      s = local_->SkipLogged(sequence);
    }
    TQ_RETURN_IF_ERROR(s);
  }
  return flush();
}

}  // namespace cluster
}  // namespace tqdb
