#include "rpc/cluster/etcd_watch.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "rpc/cluster/etcd_endpoint.h"

namespace tqdb {
namespace cluster {
namespace {

constexpr absl::Duration kFirstBackoff = absl::Milliseconds(100);
constexpr absl::Duration kMaxBackoff = absl::Seconds(2);

WatchEvent FromProto(const mvccpb::Event& e) {
  WatchEvent out;
  out.type = e.type() == mvccpb::Event::DELETE ? WatchEvent::Type::kDelete
                                               : WatchEvent::Type::kPut;
  out.kv = ::tqdb::cluster::FromProto(e.kv());
  return out;
}

}  // namespace

EtcdWatch::EtcdWatch(EtcdClient* client, const WatchOptions& options)
    : client_(client), options_(options) {
  next_revision_ = options.start_revision;
}

absl::StatusOr<std::unique_ptr<EtcdWatch>> EtcdWatch::Start(
    EtcdClient* client, const WatchOptions& options) {
  std::unique_ptr<EtcdWatch> watch(new EtcdWatch(client, options));
  EtcdWatch* w = watch.get();
  w->thread_ = std::thread([w] { w->Run(); });
  absl::Status failed;
  {
    absl::MutexLock lock(&w->mu_);
    w->mu_.AwaitWithTimeout(absl::Condition(w, &EtcdWatch::StartedOrFailed),
                            client->options().timeout);
    if (w->started_) return watch;
    failed = w->start_error_;
  }
  if (failed.ok()) {
    failed = absl::DeadlineExceededError(absl::StrCat(
        "etcd at ", client->endpoint(client->current_endpoint()).address,
        ": watch '", absl::CHexEscape(options.key), "': not confirmed within ",
        absl::FormatDuration(client->options().timeout)));
  }
  return failed;  // ~EtcdWatch stops the thread
}

EtcdWatch::~EtcdWatch() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

bool EtcdWatch::HasNews() const { return !queue_.empty() || !terminal_.ok(); }

bool EtcdWatch::StartedOrFailed() const {
  return started_ || !start_error_.ok();
}

absl::StatusOr<std::vector<WatchEvent>> EtcdWatch::Next(
    absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(this, &EtcdWatch::HasNews), timeout);
  std::vector<WatchEvent> out;
  if (queue_.empty() && !terminal_.ok()) return terminal_;
  out.reserve(queue_.size());
  for (WatchEvent& e : queue_) out.push_back(std::move(e));
  queue_.clear();
  return out;
}

int64_t EtcdWatch::next_revision() const {
  absl::MutexLock lock(&mu_);
  return next_revision_;
}

int EtcdWatch::reconnects() const {
  absl::MutexLock lock(&mu_);
  return reconnects_;
}

bool EtcdWatch::connected() const {
  absl::MutexLock lock(&mu_);
  return connected_;
}

void EtcdWatch::Run() {
  absl::Duration backoff = kFirstBackoff;
  for (;;) {
    const absl::Status s = Stream();
    absl::MutexLock lock(&mu_);
    const bool was_connected = connected_;
    connected_ = false;
    if (stopping_) return;
    if (!started_) {
      // The first stream failed: Start reports it, no retries.
      start_error_ = !terminal_.ok() ? terminal_
                     : !s.ok()
                         ? s
                         : absl::UnavailableError(absl::StrCat(
                               "etcd: watch '", absl::CHexEscape(options_.key),
                               "': stream closed before confirmation"));
      return;
    }
    if (!terminal_.ok()) return;
    if (was_connected) backoff = kFirstBackoff;
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff);
    if (stopping_) return;
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

absl::Status EtcdWatch::Stream() {
  const size_t index = client_->current_endpoint();
  const EtcdEndpoint& endpoint = client_->endpoint(index);
  const std::string what =
      absl::StrCat("watch '", absl::CHexEscape(options_.key), "'");
  // No deadline: the stream lives as long as the watch. A dead peer breaks
  // it through the channel's keepalive pings.
  grpc::ClientContext context;
  etcdserverpb::WatchRequest request;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::CancelledError("stopping");
    context_ = &context;
    etcdserverpb::WatchCreateRequest* create = request.mutable_create_request();
    create->set_key(options_.key);
    if (options_.prefix) create->set_range_end(PrefixRangeEnd(options_.key));
    create->set_start_revision(next_revision_);
    create->set_progress_notify(true);
  }
  auto stream = endpoint.watch->Watch(&context);
  etcdserverpb::WatchResponse response;
  if (stream->Write(request)) {
    while (stream->Read(&response)) {
      absl::MutexLock lock(&mu_);
      if (response.canceled()) {
        if (response.compact_revision() > 0) {
          terminal_ = absl::OutOfRangeError(absl::StrCat(
              "etcd at ", endpoint.address, ": ", what, ": revision ",
              next_revision_, " was compacted (oldest kept ",
              response.compact_revision(),
              "); re-read the keys and watch again"));
        } else {
          terminal_ = absl::FailedPreconditionError(
              absl::StrCat("etcd at ", endpoint.address, ": ", what,
                           ": cancelled by etcd: ", response.cancel_reason()));
        }
        context.TryCancel();
        break;
      }
      if (response.created()) {
        if (next_revision_ == 0) {
          next_revision_ = response.header().revision() + 1;
        }
        if (started_) ++reconnects_;
        started_ = true;
        connected_ = true;
        continue;
      }
      for (const mvccpb::Event& e : response.events()) {
        queue_.push_back(FromProto(e));
        next_revision_ = e.kv().mod_revision() + 1;
      }
      if (response.events_size() == 0) {
        // A progress notification: every later event has a higher revision.
        next_revision_ =
            std::max(next_revision_, response.header().revision() + 1);
      }
    }
  }
  const grpc::Status status = stream->Finish();
  {
    absl::MutexLock lock(&mu_);
    context_ = nullptr;
  }
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    client_->MarkUnavailable(index);
  }
  if (status.ok()) {
    return absl::UnavailableError(absl::StrCat("etcd at ", endpoint.address,
                                               ": ", what, ": stream ended"));
  }
  return FromGrpc(status, endpoint.address, what);
}

}  // namespace cluster
}  // namespace tqdb
