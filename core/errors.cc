#include "core/errors.h"

#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tokenauth {
namespace {

// The payload: the reason on the first line, then one "key=value" line per
// metadata entry, each C-escaped so that no line break survives inside.
// Private to this file; nothing outside the process ever sees it.
absl::Cord Encode(absl::string_view reason,
                  const std::map<std::string, std::string>& metadata) {
  std::string out = absl::CEscape(reason);
  for (const auto& [key, value] : metadata) {
    absl::StrAppend(&out, "\n", absl::CEscape(key), "=", absl::CEscape(value));
  }
  return absl::Cord(out);
}

}  // namespace

absl::Status WithReason(
    absl::Status status, absl::string_view reason,
    std::initializer_list<std::pair<absl::string_view, absl::string_view>>
        metadata) {
  ErrorReason r;
  r.reason = std::string(reason);
  for (const auto& [key, value] : metadata) {
    r.metadata[std::string(key)] = std::string(value);
  }
  return WithReason(std::move(status), r);
}

absl::Status WithReason(absl::Status status, const ErrorReason& reason) {
  if (status.ok()) return status;
  status.SetPayload(kErrorReasonTypeUrl,
                    Encode(reason.reason, reason.metadata));
  return status;
}

std::optional<ErrorReason> ErrorReasonOf(const absl::Status& status) {
  auto payload = status.GetPayload(kErrorReasonTypeUrl);  // absl::optional.
  if (!payload.has_value()) return std::nullopt;
  const std::string text(*payload);
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  ErrorReason out;
  if (!absl::CUnescape(lines[0], &out.reason)) return std::nullopt;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(lines[i], absl::MaxSplits('=', 1));
    std::string key, value;
    if (!absl::CUnescape(kv.first, &key) ||
        !absl::CUnescape(kv.second, &value)) {
      return std::nullopt;
    }
    out.metadata[std::move(key)] = std::move(value);
  }
  return out;
}

std::string ReasonOf(const absl::Status& status) {
  std::optional<ErrorReason> r = ErrorReasonOf(status);
  return r.has_value() ? r->reason : std::string();
}

std::string DefaultReason(absl::StatusCode code) {
  if (code == absl::StatusCode::kUnavailable) {
    return reasons::kDatabaseUnavailable;
  }
  return absl::StatusCodeToString(code);
}

}  // namespace tokenauth
