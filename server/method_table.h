// The one table saying, for every RPC that reads its caller from metadata,
// whether it is a read or a write operation. A read-only token may call only
// the reads. Whether a token may call an RPC at all (tokens cannot manage
// tokens or passwords) is a rule of the core, not of this table.
#ifndef TOKENAUTH_SERVER_METHOD_TABLE_H_
#define TOKENAUTH_SERVER_METHOD_TABLE_H_

#include "absl/strings/string_view.h"
#include "core/types.h"

namespace tokenauth {

struct MethodEntry {
  absl::string_view method;  // "/package.Service/Method"
  Operation operation;
};

inline constexpr MethodEntry kMethodTable[] = {
    {"/tokenauth.v1.TokenService/CreateToken", Operation::kWrite},
    {"/tokenauth.v1.TokenService/GetToken", Operation::kRead},
    {"/tokenauth.v1.TokenService/ListTokens", Operation::kRead},
    {"/tokenauth.v1.TokenService/UpdateToken", Operation::kWrite},
    {"/tokenauth.v1.TokenService/RevokeToken", Operation::kWrite},
    {"/tokenauth.v1.TokenService/RotateToken", Operation::kWrite},
    {"/tokenauth.v1.AuditService/ListAuditEvents", Operation::kRead},
    {"/tokenauth.v1.UserService/CreateUser", Operation::kWrite},
    {"/tokenauth.v1.UserService/GetUser", Operation::kRead},
    {"/tokenauth.v1.UserService/DisableUser", Operation::kWrite},
    {"/tokenauth.v1.UserService/EnableUser", Operation::kWrite},
    {"/tokenauth.v1.UserService/SetPassword", Operation::kWrite},
    {"/tokenauth.v1.AuthService/Logout", Operation::kWrite},
    {"/tokenauth.v1.SessionService/ListSessions", Operation::kRead},
    {"/tokenauth.v1.SessionService/RevokeSession", Operation::kWrite},
    {"/tokenauth.v1.SessionService/RevokeAllSessions", Operation::kWrite},
};

// The operation of `method`; aborts for a method not in the table (a
// programming error: every authenticated RPC must be listed).
Operation OperationOf(absl::string_view method);

}  // namespace tokenauth

#endif  // TOKENAUTH_SERVER_METHOD_TABLE_H_
