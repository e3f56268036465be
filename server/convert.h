// Translation between tokenauth.v1 protos and core domain types, and the
// request-shape checks that belong to the wire (timestamps in range, enums
// not UNSPECIFIED). Stateless; thread-safe.
#ifndef TOKENAUTH_SERVER_CONVERT_H_
#define TOKENAUTH_SERVER_CONVERT_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/types.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "tokenauth/v1/resources.pb.h"

namespace tokenauth {

void ToProto(absl::Time t, google::protobuf::Timestamp* out);
absl::StatusOr<absl::Time> FromProto(absl::string_view field,
                                     const google::protobuf::Timestamp& ts);
absl::StatusOr<absl::Duration> FromProto(absl::string_view field,
                                         const google::protobuf::Duration& d);

absl::StatusOr<Permissions> FromProto(absl::string_view field,
                                      const v1::TokenPermissions& p);
void ToProto(const Permissions& p, v1::TokenPermissions* out);

void ToProto(const TokenRecord& t, TokenState state, v1::Token* out);
void ToProto(const User& u, v1::User* out);
void ToProto(const AuditEvent& e, v1::AuditEvent* out);
// UNSPECIFIED is "no filter" (nullopt).
absl::StatusOr<std::optional<TokenState>> FromProto(absl::string_view field,
                                                    v1::TokenState state);
void ToProto(const SessionRecord& s, absl::Time idle_expire_time,
             v1::Session* out);
void ToProto(const Principal& p, v1::Principal* out);
v1::CredentialKind ToProto(CredentialKind kind);

absl::StatusOr<Operation> FromProto(absl::string_view field, v1::Operation op);

}  // namespace tokenauth

#endif  // TOKENAUTH_SERVER_CONVERT_H_
