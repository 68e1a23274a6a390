#include "rpc/cluster/nats_handles.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace tqdb {
namespace cluster {
namespace {

absl::StatusCode CodeOf(natsStatus s, jsErrCode js_error) {
  switch (js_error) {
    case JSStreamNotFoundErr:
    case JSConsumerNotFoundErr:
      return absl::StatusCode::kNotFound;
    case JSStreamNameExistErr:
      return absl::StatusCode::kAlreadyExists;
    case JSClusterNotAvailErr:
    case JSClusterNoPeersErr:
    case JSInsufficientResourcesErr:
      return absl::StatusCode::kUnavailable;
    default:
      break;
  }
  if (js_error != 0) return absl::StatusCode::kFailedPrecondition;
  switch (s) {
    case NATS_NO_SERVER:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_STALE_CONNECTION:
    case NATS_IO_ERROR:
    case NATS_NO_RESPONDERS:
    case NATS_NOT_YET_CONNECTED:
    case NATS_MISSED_HEARTBEAT:
      return absl::StatusCode::kUnavailable;
    case NATS_TIMEOUT:
      return absl::StatusCode::kDeadlineExceeded;
    case NATS_NOT_FOUND:
      return absl::StatusCode::kNotFound;
    case NATS_INVALID_SUBJECT:
    case NATS_INVALID_ARG:
    case NATS_INVALID_TIMEOUT:
    case NATS_ADDRESS_MISSING:
    case NATS_MAX_PAYLOAD:
      return absl::StatusCode::kInvalidArgument;
    case NATS_CONNECTION_AUTH_FAILED:
    case NATS_NOT_PERMITTED:
      return absl::StatusCode::kPermissionDenied;
    case NATS_NO_MEMORY:
    case NATS_INSUFFICIENT_BUFFER:
    case NATS_SLOW_CONSUMER:
      return absl::StatusCode::kResourceExhausted;
    case NATS_ERR:
    case NATS_ILLEGAL_STATE:
    case NATS_MISMATCH:
      return absl::StatusCode::kFailedPrecondition;
    default:
      return absl::StatusCode::kInternal;
  }
}

}  // namespace

absl::Status NatsError(natsStatus s, absl::string_view what,
                       jsErrCode js_error) {
  if (s == NATS_OK) return absl::OkStatus();
  natsStatus last = NATS_OK;
  const char* text = nats_GetLastError(&last);
  std::string detail = natsStatus_GetText(s);
  // libnats' thread-local text says more (the server's JetStream error),
  // when it belongs to this failure.
  if (last == s && text != nullptr && *text != '\0' && detail != text) {
    absl::StrAppend(&detail, " (", text, ")");
  }
  if (js_error != 0)
    absl::StrAppend(&detail, " [JetStream error ", js_error, "]");
  return absl::Status(CodeOf(s, js_error), absl::StrCat(what, ": ", detail));
}

}  // namespace cluster
}  // namespace tqdb
