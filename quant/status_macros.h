// Tiny status helpers. Debian's Abseil 20220623 ships neither
// absl/status/status_macros.h nor logging, so tqdb defines its own, once.
//
//   TQ_RETURN_IF_ERROR(expr);          // returns the status if !ok()
//   TQ_ASSIGN_OR_RETURN(lhs, expr);    // lhs = *std::move(statusor) or return
#ifndef TQDB_QUANT_STATUS_MACROS_H_
#define TQDB_QUANT_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define TQ_STATUS_CONCAT_INNER_(a, b) a##b
#define TQ_STATUS_CONCAT_(a, b) TQ_STATUS_CONCAT_INNER_(a, b)

#define TQ_RETURN_IF_ERROR(expr)              \
  do {                                        \
    const ::absl::Status tq_status_ = (expr); \
    if (!tq_status_.ok()) return tq_status_;  \
  } while (0)

#define TQ_ASSIGN_OR_RETURN(lhs, expr)                                      \
  TQ_ASSIGN_OR_RETURN_IMPL_(TQ_STATUS_CONCAT_(tq_statusor_, __LINE__), lhs, \
                            expr)

#define TQ_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)     \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = *std::move(statusor)

#endif  // TQDB_QUANT_STATUS_MACROS_H_
