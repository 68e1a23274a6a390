// Tiny status helpers. Debian's Abseil 20220623 ships neither
// absl/status/status_macros.h nor logging, so tqdb defines its own, once.
//
//   TQ_RETURN_IF_ERROR(expr);          // returns the status if !ok()
//   TQ_RETURN_IF_ERROR(expr) << "reading " << path;
//                                      // ... as "reading x.fvecs: <message>"
//   TQ_ASSIGN_OR_RETURN(lhs, expr);    // lhs = *std::move(statusor) or return
//   return WithContext(status, "row ", i);  // same code, "row 3: <message>"
//
// Context is the one way a layer adds where-information to an error from
// below: the code is kept, the context goes in front, joined by ": ".
#ifndef TQDB_QUANT_STATUS_MACROS_H_
#define TQDB_QUANT_STATUS_MACROS_H_

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace tqdb {

// `status` with another message: the same code and payloads (the
// machine-readable marks a layer below attached, e.g. db's disk full).
inline absl::Status WithMessage(const absl::Status& status,
                                absl::string_view message) {
  absl::Status out(status.code(), message);
  status.ForEachPayload(
      [&out](absl::string_view type_url, const absl::Cord& payload) {
        out.SetPayload(type_url, payload);
      });
  return out;
}

// `status` with `context` put before its message ("context: message"),
// payloads kept; OK stays OK, an empty context changes nothing.
inline absl::Status WithContext(const absl::Status& status,
                                absl::string_view context) {
  if (status.ok() || context.empty()) return status;
  return WithMessage(status, absl::StrCat(context, ": ", status.message()));
}
template <typename... Parts>
absl::Status WithContext(const absl::Status& status, const Parts&... parts) {
  if (status.ok()) return status;
  return WithContext(status, absl::string_view(absl::StrCat(parts...)));
}

// The non-OK status of TQ_RETURN_IF_ERROR, to which `<<` adds context. It
// converts to absl::Status and to any absl::StatusOr<T>.
class StatusContextBuilder {
 public:
  explicit StatusContextBuilder(absl::Status status)
      : status_(std::move(status)) {}
  template <typename T>
  StatusContextBuilder& operator<<(const T& part) {
    absl::StrAppend(&context_, part);
    return *this;
  }
  operator absl::Status() const {  // NOLINT(google-explicit-constructor)
    return WithContext(status_, context_);
  }
  template <typename T>
  operator absl::StatusOr<T>() const {  // NOLINT
    return absl::StatusOr<T>(WithContext(status_, context_));
  }

 private:
  absl::Status status_;
  std::string context_;
};

}  // namespace tqdb

#define TQ_STATUS_CONCAT_INNER_(a, b) a##b
#define TQ_STATUS_CONCAT_(a, b) TQ_STATUS_CONCAT_INNER_(a, b)

// `switch` scopes the status to the statement and leaves `return ... << x`
// open for the caller's context, without a dangling else.
#define TQ_RETURN_IF_ERROR(expr)                 \
  switch (::absl::Status tq_status_ = (expr); 0) \
  default:                                       \
    if (tq_status_.ok()) {                       \
    } else /* NOLINT */                          \
      return ::tqdb::StatusContextBuilder(std::move(tq_status_))

#define TQ_ASSIGN_OR_RETURN(lhs, expr)                                      \
  TQ_ASSIGN_OR_RETURN_IMPL_(TQ_STATUS_CONCAT_(tq_statusor_, __LINE__), lhs, \
                            expr)

#define TQ_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)     \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = *std::move(statusor)

#endif  // TQDB_QUANT_STATUS_MACROS_H_
