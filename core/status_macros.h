// RETURN_IF_ERROR / ASSIGN_OR_RETURN for absl::Status, which Abseil
// 20220623 does not ship. Header-only; no state.
#ifndef TOKENAUTH_CORE_STATUS_MACROS_H_
#define TOKENAUTH_CORE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define TA_STATUS_CONCAT_INNER_(a, b) a##b
#define TA_STATUS_CONCAT_(a, b) TA_STATUS_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                \
  do {                                       \
    const absl::Status _ta_status = (expr);  \
    if (!_ta_status.ok()) return _ta_status; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(TA_STATUS_CONCAT_(_ta_statusor_, __LINE__), lhs, expr)

#define ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                           \
  if (!statusor.ok()) return statusor.status();     \
  lhs = std::move(statusor).value()

#endif  // TOKENAUTH_CORE_STATUS_MACROS_H_
