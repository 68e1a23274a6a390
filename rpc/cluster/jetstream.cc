#include "rpc/cluster/jetstream.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "quant/status_macros.h"
#include "rpc/cluster/nats_handles.h"

namespace tqdb {
namespace cluster {
namespace {

// Failures a retry with the same message id may cure: the connection is
// being re-established, the stream is electing a leader, the PubAck got
// lost.
bool Transient(natsStatus s, jsErrCode js_error) {
  switch (s) {
    case NATS_TIMEOUT:
    case NATS_NO_RESPONDERS:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_IO_ERROR:
    case NATS_STALE_CONNECTION:
    case NATS_NOT_YET_CONNECTED:
      return true;
    default:
      return js_error == JSClusterNotAvailErr;
  }
}

}  // namespace

JetStream::JetStream(NatsConnection* connection, jsCtx* context)
    : connection_(connection), context_(context) {}

JetStream::~JetStream() { jsCtx_Destroy(context_); }

absl::StatusOr<std::unique_ptr<JetStream>> JetStream::Create(
    NatsConnection* connection) {
  jsOptions options;
  jsOptions_Init(&options);
  options.Wait = ToMillis(connection->options().api_timeout);
  jsCtx* context = nullptr;
  const natsStatus s =
      natsConnection_JetStream(&context, connection->raw(), &options);
  if (s != NATS_OK) return NatsError(s, "jetstream: context");
  return std::unique_ptr<JetStream>(new JetStream(connection, context));
}

absl::Status JetStream::EnsureStream(const StreamConfig& config,
                                     absl::Duration placement_timeout) {
  std::vector<const char*> subjects;
  for (const std::string& s : config.subjects) subjects.push_back(s.c_str());
  jsStreamConfig c;
  jsStreamConfig_Init(&c);
  c.Name = config.name.c_str();
  c.Subjects = subjects.data();
  c.SubjectsLen = static_cast<int>(subjects.size());
  c.Replicas = config.replicas;
  c.Duplicates = absl::ToInt64Nanoseconds(config.duplicate_window);
  c.MaxBytes = config.max_bytes;
  c.MaxMsgs = config.max_messages;
  c.MaxAge = absl::ToInt64Nanoseconds(config.max_age);
  c.Storage = config.memory_storage ? js_MemoryStorage : js_FileStorage;
  const std::string what =
      absl::StrCat("jetstream: ensure stream ", config.name, " (",
                   config.replicas, " replicas)");

  const absl::Time deadline = absl::Now() + placement_timeout;
  jsStreamInfo* raw = nullptr;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  natsStatus s = NATS_OK;
  for (;;) {
    raw = nullptr;
    js_error = static_cast<jsErrCode>(0);
    s = js_AddStream(&raw, context_, &c, nullptr, &js_error);
    JsStreamInfoPtr added(raw);
    if (s == NATS_OK) return absl::OkStatus();
    // A cluster still forming: no meta leader yet, or fewer servers than
    // replicas have reported to it. Both pass within seconds of a start.
    const bool forming = js_error == JSClusterNoPeersErr ||
                         js_error == JSClusterNotAvailErr ||
                         s == NATS_NO_RESPONDERS;
    if (!forming || absl::Now() + absl::Milliseconds(250) > deadline) break;
    absl::SleepFor(absl::Milliseconds(250));
  }
  if (js_error != JSStreamNameExistErr) {
    absl::Status error = NatsError(s, what, js_error);
    if (js_error == JSClusterNoPeersErr) {
      return absl::UnavailableError(
          absl::StrCat(error.message(), "; fewer than ", config.replicas,
                       " JetStream servers joined the cluster within ",
                       absl::FormatDuration(placement_timeout)));
    }
    return error;
  }
  // It exists with other settings: change them.
  raw = nullptr;
  js_error = static_cast<jsErrCode>(0);
  s = js_UpdateStream(&raw, context_, &c, nullptr, &js_error);
  JsStreamInfoPtr updated(raw);
  if (s == NATS_OK) return absl::OkStatus();
  absl::Status error = NatsError(s, what, js_error);
  if (error.code() == absl::StatusCode::kFailedPrecondition) {
    return absl::AlreadyExistsError(absl::StrCat(
        error.message(), "; the existing stream cannot take these settings"));
  }
  return error;
}

absl::StatusOr<StreamState> JetStream::GetStreamState(
    const std::string& stream) {
  jsStreamInfo* raw = nullptr;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  const natsStatus s =
      js_GetStreamInfo(&raw, context_, stream.c_str(), nullptr, &js_error);
  JsStreamInfoPtr info(raw);
  if (s != NATS_OK) {
    return NatsError(s, absl::StrCat("jetstream: stream ", stream), js_error);
  }
  StreamState out;
  out.messages = info->State.Msgs;
  out.bytes = info->State.Bytes;
  out.first_sequence = info->State.FirstSeq;
  out.last_sequence = info->State.LastSeq;
  if (info->Config != nullptr) {
    out.replicas = static_cast<int>(info->Config->Replicas);
  }
  if (info->Cluster != nullptr) {
    if (info->Cluster->Leader != nullptr) out.leader = info->Cluster->Leader;
    for (int i = 0; i < info->Cluster->ReplicasLen; ++i) {
      const jsPeerInfo* peer = info->Cluster->Replicas[i];
      if (peer != nullptr && peer->Name != nullptr) {
        out.followers.push_back(peer->Name);
        if (peer->Current && !peer->Offline) {
          out.current_followers.push_back(peer->Name);
        }
      }
    }
  }
  return out;
}

absl::Status JetStream::DeleteStream(const std::string& stream) {
  jsErrCode js_error = static_cast<jsErrCode>(0);
  const natsStatus s =
      js_DeleteStream(context_, stream.c_str(), nullptr, &js_error);
  return NatsError(s, absl::StrCat("jetstream: delete stream ", stream),
                   js_error);
}

absl::StatusOr<uint64_t> JetStream::LastSequence(const std::string& stream,
                                                 const std::string& subject) {
  natsMsg* raw = nullptr;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  const natsStatus s = js_GetLastMsg(&raw, context_, stream.c_str(),
                                     subject.c_str(), nullptr, &js_error);
  NatsMsgPtr msg(raw);
  if (s == NATS_OK) return natsMsg_GetSequence(msg.get());
  // No message on the subject: JetStream's "no message found". Its other
  // not-found answers (no such stream) are errors: taken for 0, they would
  // let a replica that applied nothing call itself caught up.
  if (js_error == JSNoMessageFoundErr) return 0;
  return NatsError(s, absl::StrCat("jetstream: last message of ", subject),
                   js_error);
}

absl::Status JetStream::AwaitReady(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last;
  for (;;) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    jsOptions options;
    jsOptions_Init(&options);
    options.Wait = ToMillis(std::min(left, absl::Seconds(1)));
    jsAccountInfo* info = nullptr;
    jsErrCode js_error = static_cast<jsErrCode>(0);
    const natsStatus s =
        js_GetAccountInfo(&info, context_, &options, &js_error);
    if (info != nullptr) jsAccountInfo_Destroy(info);
    if (s == NATS_OK) return absl::OkStatus();
    last = NatsError(s, "account info", js_error);
    absl::SleepFor(std::min(absl::Milliseconds(100), deadline - absl::Now()));
  }
  return absl::UnavailableError(absl::StrCat(
      "jetstream at ", connection_->ServerList(), ": not ready within ",
      absl::FormatDuration(timeout), "; ",
      last.ok() ? std::string("no answer") : std::string(last.message())));
}

absl::StatusOr<PubAck> JetStream::Publish(const std::string& subject,
                                          absl::string_view data,
                                          const std::string& message_id,
                                          absl::Duration timeout,
                                          absl::Duration attempt_timeout) {
  const std::string what = absl::StrCat("jetstream: publish on ", subject,
                                        " (message id '", message_id, "')");
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration pause = absl::Milliseconds(50);
  absl::Status last;
  int attempts = 0;
  for (;;) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    // Not connected for the rest of the time: Unavailable naming servers.
    TQ_RETURN_IF_ERROR(connection_->AwaitConnected(left)) << what;
    left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    jsPubOptions options;
    jsPubOptions_Init(&options);
    options.MsgId = message_id.empty() ? nullptr : message_id.c_str();
    options.MaxWait = ToMillis(std::min(left, attempt_timeout));
    jsPubAck* raw = nullptr;
    jsErrCode js_error = static_cast<jsErrCode>(0);
    ++attempts;
    const natsStatus s =
        js_Publish(&raw, context_, subject.c_str(), data.data(),
                   static_cast<int>(data.size()), &options, &js_error);
    JsPubAckPtr ack(raw);
    if (s == NATS_OK) return PubAck{ack->Sequence, ack->Duplicate};
    last = NatsError(s, absl::StrCat("attempt ", attempts), js_error);
    if (!Transient(s, js_error)) return WithContext(last, what);
    if (s != NATS_TIMEOUT) {
      // Refused at once (no responders while a leader is elected): pause.
      absl::SleepFor(std::min(pause, deadline - absl::Now()));
      pause = std::min(pause * 2, absl::Seconds(1));
    }
  }
  return absl::UnavailableError(absl::StrCat(
      what, ": no PubAck within ", absl::FormatDuration(timeout),
      " (no stream takes the subject, or its replicas have no quorum); ",
      last.ok() ? std::string("no attempt") : std::string(last.message())));
}

}  // namespace cluster
}  // namespace tqdb
