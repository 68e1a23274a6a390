#include "rpc/cluster/pull_consumer.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "quant/status_macros.h"
#include "rpc/cluster/nats_handles.h"

namespace tqdb {
namespace cluster {

JsMessage::JsMessage(natsMsg* message) : message_(message) {
  jsMsgMetaData* raw = nullptr;
  if (natsMsg_GetMetaData(&raw, message_) == NATS_OK) {
    JsMsgMetaDataPtr meta(raw);
    stream_sequence_ = meta->Sequence.Stream;
    consumer_sequence_ = meta->Sequence.Consumer;
    delivered_ = meta->NumDelivered;
  }
}

JsMessage::JsMessage(JsMessage&& other) noexcept
    : message_(std::exchange(other.message_, nullptr)),
      stream_sequence_(other.stream_sequence_),
      consumer_sequence_(other.consumer_sequence_),
      delivered_(other.delivered_) {}

JsMessage& JsMessage::operator=(JsMessage&& other) noexcept {
  if (this != &other) {
    if (message_ != nullptr) natsMsg_Destroy(message_);
    message_ = std::exchange(other.message_, nullptr);
    stream_sequence_ = other.stream_sequence_;
    consumer_sequence_ = other.consumer_sequence_;
    delivered_ = other.delivered_;
  }
  return *this;
}

JsMessage::~JsMessage() {
  if (message_ != nullptr) natsMsg_Destroy(message_);
}

absl::string_view JsMessage::subject() const {
  return natsMsg_GetSubject(message_);
}

absl::string_view JsMessage::data() const {
  return absl::string_view(
      natsMsg_GetData(message_),
      static_cast<size_t>(natsMsg_GetDataLength(message_)));
}

std::string JsMessage::message_id() const {
  const char* value = nullptr;
  if (natsMsgHeader_Get(message_, "Nats-Msg-Id", &value) != NATS_OK ||
      value == nullptr) {
    return "";
  }
  return value;
}

absl::Status JsMessage::Ack(absl::Duration timeout) {
  jsOptions options;
  jsOptions_Init(&options);
  options.Wait = ToMillis(timeout);
  jsErrCode js_error = static_cast<jsErrCode>(0);
  const natsStatus s = natsMsg_AckSync(message_, &options, &js_error);
  return NatsError(
      s, absl::StrCat("jetstream: ack of sequence ", stream_sequence_),
      js_error);
}

absl::Status JsMessage::AckNoWait() {
  return NatsError(
      natsMsg_Ack(message_, nullptr),
      absl::StrCat("jetstream: ack of sequence ", stream_sequence_));
}

absl::Status JsMessage::Nak() {
  return NatsError(
      natsMsg_Nak(message_, nullptr),
      absl::StrCat("jetstream: nak of sequence ", stream_sequence_));
}

PullConsumer::PullConsumer(JetStream* js, const ConsumerConfig& config,
                           natsSubscription* subscription)
    : js_(js), config_(config), subscription_(subscription) {}

PullConsumer::~PullConsumer() {
  // libnats before 3.10 (Debian 12 has 3.4.1) handles an inbound message
  // holding a bare pointer to its subscription (nats.c #637, fixed by
  // #638): a message that arrives while the subscription is destroyed, such
  // as a pull request's status after the consumer was deleted (the
  // balancer deletes those of replicas it moves), was written into freed
  // memory ("malloc(): unaligned tcache chunk detected" in cluster_sh_e2e's
  // drain). So the subscription leaves the connection first, and a round
  // trip to the server lets the read loop finish whatever it took before
  // (it handles the PONG after it); only then is it freed. Unsubscribe
  // keeps the durable consumer: libnats deletes only consumers it created,
  // and this one it bound.
  natsSubscription_Unsubscribe(subscription_);
  natsConnection_FlushTimeout(js_->connection()->raw(), 2000);
  natsSubscription_Destroy(subscription_);
}

absl::StatusOr<std::unique_ptr<PullConsumer>> PullConsumer::Create(
    JetStream* js, const ConsumerConfig& config) {
  const std::string what =
      absl::StrCat("jetstream: consumer ", config.durable, " of stream ",
                   config.stream, " on ", config.filter_subject);
  if (config.stream.empty() || config.durable.empty() ||
      config.filter_subject.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": stream, durable and filter_subject are needed"));
  }
  jsConsumerConfig c;
  jsConsumerConfig_Init(&c);
  c.Durable = config.durable.c_str();
  c.FilterSubject = config.filter_subject.c_str();
  c.AckPolicy = config.ack_all ? js_AckAll : js_AckExplicit;
  c.AckWait = absl::ToInt64Nanoseconds(config.ack_wait);
  c.MaxAckPending = config.max_ack_pending;
  if (config.start_sequence > 0) {
    c.DeliverPolicy = js_DeliverByStartSequence;
    c.OptStartSeq = config.start_sequence;
  }
  jsErrCode js_error = static_cast<jsErrCode>(0);
  jsConsumerInfo* raw_info = nullptr;
  natsStatus s = js_GetConsumerInfo(&raw_info, js->raw(), config.stream.c_str(),
                                    config.durable.c_str(), nullptr, &js_error);
  JsConsumerInfoPtr existing(raw_info);
  if (s != NATS_OK) {
    if (js_error != JSConsumerNotFoundErr) {
      return NatsError(s, what, js_error);
    }
    raw_info = nullptr;
    js_error = static_cast<jsErrCode>(0);
    s = js_AddConsumer(&raw_info, js->raw(), config.stream.c_str(), &c, nullptr,
                       &js_error);
    JsConsumerInfoPtr added(raw_info);
    if (s != NATS_OK) return NatsError(s, what, js_error);
  }
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = config.stream.c_str();
  sub_options.Consumer = config.durable.c_str();
  natsSubscription* subscription = nullptr;
  js_error = static_cast<jsErrCode>(0);
  s = js_PullSubscribe(&subscription, js->raw(), config.filter_subject.c_str(),
                       config.durable.c_str(), nullptr, &sub_options,
                       &js_error);
  if (s != NATS_OK) return NatsError(s, what, js_error);
  return std::unique_ptr<PullConsumer>(
      new PullConsumer(js, config, subscription));
}

namespace {

ConsumerState StateOf(const jsConsumerInfo& info) {
  ConsumerState out;
  out.delivered_sequence = info.Delivered.Stream;
  out.ack_floor = info.AckFloor.Stream;
  out.pending = info.NumPending;
  out.ack_pending = info.NumAckPending;
  out.redelivered = info.NumRedelivered;
  return out;
}

}  // namespace

absl::StatusOr<std::optional<ConsumerState>> PullConsumer::Lookup(
    JetStream* js, const std::string& stream, const std::string& durable,
    absl::Duration wait) {
  jsOptions options;
  jsOptions_Init(&options);
  if (wait > absl::ZeroDuration()) options.Wait = ToMillis(wait);
  jsConsumerInfo* raw = nullptr;
  jsErrCode js_error = static_cast<jsErrCode>(0);
  const natsStatus s = js_GetConsumerInfo(
      &raw, js->raw(), stream.c_str(), durable.c_str(),
      wait > absl::ZeroDuration() ? &options : nullptr, &js_error);
  JsConsumerInfoPtr info(raw);
  if (s == NATS_OK) return std::optional<ConsumerState>(StateOf(*info));
  if (js_error == JSConsumerNotFoundErr) return std::optional<ConsumerState>();
  return NatsError(
      s, absl::StrCat("jetstream: consumer ", durable, " of stream ", stream),
      js_error);
}

absl::Status PullConsumer::Delete(JetStream* js, const std::string& stream,
                                  const std::string& durable) {
  jsErrCode js_error = static_cast<jsErrCode>(0);
  const natsStatus s = js_DeleteConsumer(js->raw(), stream.c_str(),
                                         durable.c_str(), nullptr, &js_error);
  if (s == NATS_OK || js_error == JSConsumerNotFoundErr) {
    return absl::OkStatus();
  }
  return NatsError(s,
                   absl::StrCat("jetstream: delete consumer ", durable,
                                " of stream ", stream),
                   js_error);
}

absl::StatusOr<std::vector<JsMessage>> PullConsumer::Fetch(
    int batch, absl::Duration timeout) {
  const std::string what =
      absl::StrCat("jetstream: fetch from consumer ", config_.durable);
  const absl::Time deadline = absl::Now() + timeout;
  TQ_RETURN_IF_ERROR(js_->connection()->AwaitConnected(timeout)) << what;
  natsMsgList list = {nullptr, 0};
  jsErrCode js_error = static_cast<jsErrCode>(0);
  const natsStatus s = natsSubscription_Fetch(
      &list, subscription_, batch, ToMillis(deadline - absl::Now()), &js_error);
  std::vector<JsMessage> out;
  out.reserve(list.Count);
  for (int i = 0; i < list.Count; ++i) {
    out.push_back(JsMessage(list.Msgs[i]));
    list.Msgs[i] = nullptr;  // owned by `out` now
  }
  natsMsgList_Destroy(&list);
  if (s == NATS_OK || !out.empty() || s == NATS_TIMEOUT) return out;
  return NatsError(s, what, js_error);
}

absl::StatusOr<ConsumerState> PullConsumer::State() {
  // By name rather than through the subscription: libnats refuses the
  // latter for a pull subscription bound to an existing durable.
  TQ_ASSIGN_OR_RETURN(std::optional<ConsumerState> state,
                      Lookup(js_, config_.stream, config_.durable));
  if (!state.has_value()) {
    return absl::NotFoundError(absl::StrCat("jetstream: consumer ",
                                            config_.durable, " of stream ",
                                            config_.stream, " is gone"));
  }
  return *state;
}

}  // namespace cluster
}  // namespace tqdb
