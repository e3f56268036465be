// The RPC layer: thin gRPC services that read the caller, translate the
// request into core calls and translate the answer back. Rules live in
// core/; these classes hold no state of their own and do not own their
// dependencies. Thread-safe.
#ifndef TOKENAUTH_SERVER_SERVICES_H_
#define TOKENAUTH_SERVER_SERVICES_H_

#include "core/audit_log.h"
#include "core/authenticator.h"
#include "core/session_manager.h"
#include "core/token_manager.h"
#include "core/user_manager.h"
#include "server/blocking_pool.h"
#include "server/caller_auth.h"
#include "tokenauth/v1/audit_service.grpc.pb.h"
#include "tokenauth/v1/auth_service.grpc.pb.h"
#include "tokenauth/v1/session_service.grpc.pb.h"
#include "tokenauth/v1/token_service.grpc.pb.h"
#include "tokenauth/v1/user_service.grpc.pb.h"

namespace tokenauth {

class TokenServiceImpl final : public v1::TokenService::Service {
 public:
  TokenServiceImpl(const CallerAuth* callers, TokenManager* tokens)
      : callers_(callers), tokens_(tokens) {}

  grpc::Status CreateToken(grpc::ServerContext* context,
                           const v1::CreateTokenRequest* request,
                           v1::CreateTokenResponse* response) override;
  grpc::Status GetToken(grpc::ServerContext* context,
                        const v1::GetTokenRequest* request,
                        v1::GetTokenResponse* response) override;
  grpc::Status ListTokens(grpc::ServerContext* context,
                          const v1::ListTokensRequest* request,
                          v1::ListTokensResponse* response) override;
  grpc::Status UpdateToken(grpc::ServerContext* context,
                           const v1::UpdateTokenRequest* request,
                           v1::UpdateTokenResponse* response) override;
  grpc::Status RevokeToken(grpc::ServerContext* context,
                           const v1::RevokeTokenRequest* request,
                           v1::RevokeTokenResponse* response) override;
  grpc::Status RotateToken(grpc::ServerContext* context,
                           const v1::RotateTokenRequest* request,
                           v1::RotateTokenResponse* response) override;

 private:
  const CallerAuth* const callers_;
  TokenManager* const tokens_;
};

// Authenticate, on every backend's request path, is a callback method: an
// answer from memory (a cache hit) is sent from the gRPC thread that read
// the request; anything that waits (a store read, a password hash) runs on
// `blocking`, which must outlive the grpc::Server. Login and Logout are
// synchronous like the other services.
class AuthServiceImpl final
    : public v1::AuthService::WithCallbackMethod_Authenticate<
          v1::AuthService::Service> {
 public:
  AuthServiceImpl(const Authenticator* authenticator, const CallerAuth* callers,
                  SessionManager* sessions, BlockingPool* blocking)
      : authenticator_(authenticator),
        callers_(callers),
        sessions_(sessions),
        blocking_(blocking) {}

  grpc::ServerUnaryReactor* Authenticate(
      grpc::CallbackServerContext* context,
      const v1::AuthenticateRequest* request,
      v1::AuthenticateResponse* response) override;
  grpc::Status Login(grpc::ServerContext* context,
                     const v1::LoginRequest* request,
                     v1::LoginResponse* response) override;
  grpc::Status Logout(grpc::ServerContext* context,
                      const v1::LogoutRequest* request,
                      v1::LogoutResponse* response) override;

 private:
  // `result` as the RPC's status and response.
  grpc::Status Respond(const absl::StatusOr<AuthResult>& result,
                       v1::AuthenticateResponse* response) const;

  const Authenticator* const authenticator_;
  const CallerAuth* const callers_;
  SessionManager* const sessions_;
  BlockingPool* const blocking_;
};

class SessionServiceImpl final : public v1::SessionService::Service {
 public:
  SessionServiceImpl(const CallerAuth* callers, SessionManager* sessions)
      : callers_(callers), sessions_(sessions) {}

  grpc::Status ListSessions(grpc::ServerContext* context,
                            const v1::ListSessionsRequest* request,
                            v1::ListSessionsResponse* response) override;
  grpc::Status RevokeSession(grpc::ServerContext* context,
                             const v1::RevokeSessionRequest* request,
                             v1::RevokeSessionResponse* response) override;
  grpc::Status RevokeAllSessions(
      grpc::ServerContext* context, const v1::RevokeAllSessionsRequest* request,
      v1::RevokeAllSessionsResponse* response) override;

 private:
  const CallerAuth* const callers_;
  SessionManager* const sessions_;
};

class UserServiceImpl final : public v1::UserService::Service {
 public:
  UserServiceImpl(const CallerAuth* callers, UserManager* users)
      : callers_(callers), users_(users) {}

  grpc::Status CreateUser(grpc::ServerContext* context,
                          const v1::CreateUserRequest* request,
                          v1::CreateUserResponse* response) override;
  grpc::Status GetUser(grpc::ServerContext* context,
                       const v1::GetUserRequest* request,
                       v1::GetUserResponse* response) override;
  grpc::Status DisableUser(grpc::ServerContext* context,
                           const v1::DisableUserRequest* request,
                           v1::DisableUserResponse* response) override;
  grpc::Status EnableUser(grpc::ServerContext* context,
                          const v1::EnableUserRequest* request,
                          v1::EnableUserResponse* response) override;
  grpc::Status SetPassword(grpc::ServerContext* context,
                           const v1::SetPasswordRequest* request,
                           v1::SetPasswordResponse* response) override;

 private:
  const CallerAuth* const callers_;
  UserManager* const users_;
};

class AuditServiceImpl final : public v1::AuditService::Service {
 public:
  AuditServiceImpl(const CallerAuth* callers, const AuditLog* audit)
      : callers_(callers), audit_(audit) {}

  grpc::Status ListAuditEvents(grpc::ServerContext* context,
                               const v1::ListAuditEventsRequest* request,
                               v1::ListAuditEventsResponse* response) override;

 private:
  const CallerAuth* const callers_;
  const AuditLog* const audit_;
};

}  // namespace tokenauth

#endif  // TOKENAUTH_SERVER_SERVICES_H_
