#include "server/convert.h"

#include "absl/strings/str_cat.h"

namespace tokenauth {
namespace {
// google.protobuf.Timestamp's valid range: 0001-01-01 to 9999-12-31.
constexpr int64_t kMinSeconds = -62135596800;
constexpr int64_t kMaxSeconds = 253402300799;
}  // namespace

void ToProto(absl::Time t, google::protobuf::Timestamp* out) {
  // Seconds and the remainder separately: absl::ToUnixNanos saturates after
  // the year 2262, and expirations may lie up to the year 9999.
  const int64_t seconds = absl::ToUnixSeconds(t);  // Floors.
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(seconds)) /
                                      absl::Nanoseconds(1)));
}

absl::StatusOr<absl::Time> FromProto(absl::string_view field,
                                     const google::protobuf::Timestamp& ts) {
  if (ts.seconds() < kMinSeconds || ts.seconds() > kMaxSeconds ||
      ts.nanos() < 0 || ts.nanos() > 999999999) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": not a valid timestamp (years 1..9999, nanos 0..999999999)"));
  }
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

absl::StatusOr<absl::Duration> FromProto(absl::string_view field,
                                         const google::protobuf::Duration& d) {
  // The documented range of google.protobuf.Duration: +-10000 years.
  constexpr int64_t kMax = 315576000000;
  if (d.seconds() < -kMax || d.seconds() > kMax || d.nanos() < -999999999 ||
      d.nanos() > 999999999 || (d.seconds() > 0 && d.nanos() < 0) ||
      (d.seconds() < 0 && d.nanos() > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": not a valid duration"));
  }
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

absl::StatusOr<Permissions> FromProto(absl::string_view field,
                                      const v1::TokenPermissions& p) {
  Permissions out;
  switch (p.access()) {
    case v1::TOKEN_ACCESS_READ_ONLY:
      out.access = Access::kReadOnly;
      break;
    case v1::TOKEN_ACCESS_READ_WRITE:
      out.access = Access::kReadWrite;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat(field,
                       ".access: required (TOKEN_ACCESS_READ_ONLY or "
                       "TOKEN_ACCESS_READ_WRITE)"));
  }
  out.scopes.assign(p.scopes().begin(), p.scopes().end());
  return out;
}

void ToProto(const Permissions& p, v1::TokenPermissions* out) {
  out->set_access(p.access == Access::kReadOnly ? v1::TOKEN_ACCESS_READ_ONLY
                                                : v1::TOKEN_ACCESS_READ_WRITE);
  for (const std::string& s : p.scopes) out->add_scopes(s);
}

void ToProto(const TokenRecord& t, TokenState state, v1::Token* out) {
  out->set_id(t.public_id);
  out->set_name(t.name);
  out->set_user_id(t.user_id);
  ToProto(t.permissions, out->mutable_permissions());
  ToProto(t.create_time, out->mutable_create_time());
  ToProto(t.update_time, out->mutable_update_time());
  if (t.expire_time) ToProto(*t.expire_time, out->mutable_expire_time());
  if (t.last_used_time)
    ToProto(*t.last_used_time, out->mutable_last_used_time());
  if (t.revoke_time) ToProto(*t.revoke_time, out->mutable_revoke_time());
  switch (state) {
    case TokenState::kActive:
      out->set_state(v1::TOKEN_STATE_ACTIVE);
      break;
    case TokenState::kExpired:
      out->set_state(v1::TOKEN_STATE_EXPIRED);
      break;
    case TokenState::kRevoked:
      out->set_state(v1::TOKEN_STATE_REVOKED);
      break;
    case TokenState::kStale:
      out->set_state(v1::TOKEN_STATE_STALE);
      break;
  }
  out->set_hint(t.hint);
  out->set_family_id(t.family_id);
  if (t.rotated_to) out->set_rotated_to_id(*t.rotated_to);
  for (const std::string& peer : t.last_used_peers) {
    out->add_last_used_peers(peer);
  }
}

void ToProto(const AuditEvent& e, v1::AuditEvent* out) {
  out->set_id(e.id);
  ToProto(e.time, out->mutable_time());
  out->set_type(e.type);
  out->set_actor_user_id(e.actor_user_id);
  out->set_subject_user_id(e.subject_user_id);
  out->set_object_id(e.object_id);
  out->set_credential_kind(e.credential_kind);
  out->set_peer(e.peer);
  out->set_details(e.details);
}

absl::StatusOr<std::optional<TokenState>> FromProto(absl::string_view field,
                                                    v1::TokenState state) {
  switch (state) {
    case v1::TOKEN_STATE_UNSPECIFIED:
      return std::optional<TokenState>();
    case v1::TOKEN_STATE_ACTIVE:
      return std::optional<TokenState>(TokenState::kActive);
    case v1::TOKEN_STATE_EXPIRED:
      return std::optional<TokenState>(TokenState::kExpired);
    case v1::TOKEN_STATE_REVOKED:
      return std::optional<TokenState>(TokenState::kRevoked);
    case v1::TOKEN_STATE_STALE:
      return std::optional<TokenState>(TokenState::kStale);
    default:
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": not a TokenState value"));
  }
}

void ToProto(const User& u, v1::User* out) {
  out->set_id(u.id);
  out->set_username(u.username);
  out->set_admin(u.admin);
  out->set_disabled(u.disabled);
  ToProto(u.create_time, out->mutable_create_time());
  ToProto(u.update_time, out->mutable_update_time());
}

void ToProto(const SessionRecord& s, absl::Time idle_expire_time,
             v1::Session* out) {
  out->set_handle(s.handle);
  out->set_user_id(s.user_id);
  ToProto(s.create_time, out->mutable_create_time());
  ToProto(s.last_seen_time, out->mutable_last_seen_time());
  ToProto(idle_expire_time, out->mutable_idle_expire_time());
  ToProto(s.expire_time, out->mutable_expire_time());
  out->set_peer(s.peer);
  out->set_user_agent(s.user_agent);
}

void ToProto(const Principal& p, v1::Principal* out) {
  out->set_user_id(p.user_id);
  out->set_username(p.username);
  out->set_admin(p.admin);
}

v1::CredentialKind ToProto(CredentialKind kind) {
  switch (kind) {
    case CredentialKind::kBasic:
      return v1::CREDENTIAL_KIND_BASIC;
    case CredentialKind::kSession:
      return v1::CREDENTIAL_KIND_SESSION;
    case CredentialKind::kAccessToken:
      return v1::CREDENTIAL_KIND_ACCESS_TOKEN;
  }
  return v1::CREDENTIAL_KIND_UNSPECIFIED;
}

absl::StatusOr<Operation> FromProto(absl::string_view field, v1::Operation op) {
  switch (op) {
    case v1::OPERATION_READ:
      return Operation::kRead;
    case v1::OPERATION_WRITE:
      return Operation::kWrite;
    case v1::OPERATION_UNSPECIFIED:
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": required (OPERATION_READ or OPERATION_WRITE)"));
    default:  // A number this server does not know.
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": unknown value ", static_cast<int>(op),
                       " (OPERATION_READ or OPERATION_WRITE)"));
  }
}

}  // namespace tokenauth
