#include "server/status_convert.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/errors.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "server/log.h"

namespace tokenauth {
namespace {

constexpr char kInternalMessage[] =
    "internal error; the server log has the details";

// One name, optionally indexed: "scopes", "scopes[0]", "TOKENAUTH_LISTEN".
// Mixed case is refused so that "InsertToken: ..." (a storage operation, not
// a field) does not pass for one.
bool IsFieldSegment(absl::string_view s) {
  size_t end = s.find('[');
  absl::string_view name = s.substr(0, end);
  if (name.empty() || !absl::ascii_isalpha(static_cast<unsigned char>(name[0])))
    return false;
  bool lower = false, upper = false;
  for (char c : name) {
    const unsigned char u = static_cast<unsigned char>(c);
    lower = lower || absl::ascii_islower(u);
    upper = upper || absl::ascii_isupper(u);
    if (!absl::ascii_isalnum(u) && c != '_') return false;
  }
  if (lower && upper) return false;
  while (end != absl::string_view::npos) {  // "[<digits>]" repeated.
    const size_t close = s.find(']', end);
    if (close == absl::string_view::npos || close == end + 1) return false;
    for (size_t i = end + 1; i < close; ++i) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) return false;
    }
    if (close + 1 == s.size()) return true;
    if (s[close + 1] != '[') return false;
    end = close + 1;
  }
  return true;
}

bool IsFieldPath(absl::string_view path) {
  for (absl::string_view segment : absl::StrSplit(path, '.')) {
    if (!IsFieldSegment(segment)) return false;
  }
  return true;
}

}  // namespace

std::vector<FieldViolation> FieldViolationsOf(absl::string_view message) {
  const size_t colon = message.find(": ");
  if (colon != absl::string_view::npos) {
    std::vector<absl::string_view> fields =
        absl::StrSplit(message.substr(0, colon), ", ");
    bool ok = true;
    for (absl::string_view f : fields) ok = ok && IsFieldPath(f);
    if (ok) {
      const std::string rule(message.substr(colon + 2));
      std::vector<FieldViolation> out;
      for (absl::string_view f : fields) {
        out.push_back(FieldViolation{std::string(f), rule});
      }
      return out;
    }
  }
  return {FieldViolation{"", std::string(message)}};
}

grpc::Status MakeGrpcStatus(grpc::StatusCode code, absl::string_view message,
                            absl::string_view reason,
                            const std::map<std::string, std::string>& metadata,
                            const std::vector<FieldViolation>& violations) {
  google::rpc::Status details;
  details.set_code(static_cast<int32_t>(code));
  details.set_message(std::string(message));
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  info.set_domain(kErrorDomain);
  info.mutable_metadata()->insert(metadata.begin(), metadata.end());
  details.add_details()->PackFrom(info);
  if (!violations.empty()) {
    google::rpc::BadRequest bad_request;
    for (const FieldViolation& v : violations) {
      google::rpc::BadRequest::FieldViolation* out =
          bad_request.add_field_violations();
      out->set_field(v.field);
      out->set_description(v.description);
    }
    details.add_details()->PackFrom(bad_request);
  }
  return grpc::Status(code, std::string(message), details.SerializeAsString());
}

grpc::Status ToGrpcStatus(const absl::Status& status,
                          absl::string_view method) {
  if (status.ok()) return grpc::Status::OK;
  if (status.code() == absl::StatusCode::kInternal ||
      status.code() == absl::StatusCode::kUnknown) {
    LogError(method, ": internal error: ", status.message());
    // Nothing of the original, not even an attached reason, goes out.
    return MakeGrpcStatus(grpc::StatusCode::INTERNAL, kInternalMessage,
                          DefaultReason(absl::StatusCode::kInternal), {}, {});
  }
  ErrorReason reason;
  if (std::optional<ErrorReason> attached = ErrorReasonOf(status)) {
    reason = *std::move(attached);
  } else {
    reason.reason = DefaultReason(status.code());
  }
  std::vector<FieldViolation> violations;
  if (status.code() == absl::StatusCode::kInvalidArgument) {
    violations = FieldViolationsOf(status.message());
    std::vector<absl::string_view> fields;
    for (const FieldViolation& v : violations) {
      if (!v.field.empty()) fields.push_back(v.field);
    }
    if (!fields.empty()) {
      reason.metadata.emplace("field", absl::StrJoin(fields, ","));
    }
  }
  return MakeGrpcStatus(static_cast<grpc::StatusCode>(status.code()),
                        status.message(), reason.reason, reason.metadata,
                        violations);
}

}  // namespace tokenauth
