// token create|list|get|update|revoke|rotate.
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli.h"
#include "format.h"
#include "google/protobuf/util/time_util.h"
#include "tokenauth/v1/token_service.grpc.pb.h"

namespace tokenauth::cli {
namespace {

using google::protobuf::util::TimeUtil;

// --ttl / --expires-at (and --no-expiry where allowed) into a request's
// oneof. Returns a usage error message, or "".
template <typename Request>
std::string SetExpiration(const Invocation& inv, Request* request) {
  if (inv.Has("ttl") && inv.Has("expires-at")) {
    return "give --ttl or --expires-at, not both";
  }
  if (inv.Has("ttl")) {
    absl::Duration ttl;
    if (!ParseDurationArg(inv.Get("ttl"), &ttl).ok() ||
        ttl <= absl::ZeroDuration()) {
      return "--ttl: a positive duration such as 30d, 12h or 90m";
    }
    *request->mutable_ttl() =
        TimeUtil::SecondsToDuration(absl::ToInt64Seconds(ttl));
  }
  if (inv.Has("expires-at")) {
    absl::Time t;
    if (absl::Status s = ParseTimeArg(inv.Get("expires-at"), &t); !s.ok()) {
      return absl::StrCat("--expires-at: ", s.message());
    }
    *request->mutable_expire_time() =
        TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(t));
  }
  return "";
}

// --access read|write into *access. Returns a usage error message, or "".
std::string ParseAccess(const Invocation& inv, v1::TokenAccess* access) {
  const std::string a = inv.Get("access");
  if (a == "read" || a == "read-only") {
    *access = v1::TOKEN_ACCESS_READ_ONLY;
  } else if (a == "write" || a == "read-write") {
    *access = v1::TOKEN_ACCESS_READ_WRITE;
  } else {
    return "--access must be read or write";
  }
  return "";
}

void PrintValueOnce(const std::string& value) {
  std::cout << "The token's value is shown only now; store it safely:\n"
            << value << "\n";
}

std::string Expiry(const v1::Token& t) {
  return t.has_expire_time()
             ? absl::StrCat("expires ", FormatTimestamp(t.expire_time(), ""))
             : "never expires";
}

int TokenCreate(Invocation& inv) {
  if (!inv.Has("name")) return UsageError(inv, "--name is required");
  v1::CreateTokenRequest request;
  request.set_name(inv.Get("name"));
  v1::TokenAccess access = v1::TOKEN_ACCESS_READ_ONLY;
  if (inv.Has("access")) {
    if (std::string e = ParseAccess(inv, &access); !e.empty()) {
      return UsageError(inv, e);
    }
  }
  request.mutable_permissions()->set_access(access);
  for (const std::string& scope : inv.GetAll("scope")) {
    request.mutable_permissions()->add_scopes(scope);
  }
  if (std::string e = SetExpiration(inv, &request); !e.empty()) {
    return UsageError(inv, e);
  }
  request.set_request_id(inv.Get("request-id"));
  std::unique_ptr<grpc::ClientContext> context = inv.CallerContext();
  if (context == nullptr) return kExitAuth;
  v1::CreateTokenResponse response;
  grpc::Status status = v1::TokenService::NewStub(inv.Channel())
                            ->CreateToken(context.get(), request, &response);
  if (!status.ok()) return Fail(inv, status);
  if (inv.output == Output::kJson) {
    PrintJson(response);
    return kExitOk;
  }
  const v1::Token& t = response.token();
  if (response.replayed()) {
    std::cout << "Token " << t.id() << " \"" << t.name()
              << "\" was already created by an earlier request with this "
                 "--request-id; its value was shown then.\n";
    return kExitOk;
  }
  std::cout << "Created token " << t.id() << " \"" << t.name() << "\" ("
            << AccessName(t.permissions().access()) << ", " << Expiry(t)
            << ").\n";
  PrintValueOnce(response.value());
  return kExitOk;
}

int TokenList(Invocation& inv) {
  v1::ListTokensRequest request;
  request.set_page_size(1000);
  request.set_show_unusable(inv.Has("all"));
  request.set_name_contains(inv.Get("name-contains"));
  if (inv.Has("state")) {
    const std::string s = inv.Get("state");
    v1::TokenState state;
    if (s == "active") {
      state = v1::TOKEN_STATE_ACTIVE;
    } else if (s == "expired") {
      state = v1::TOKEN_STATE_EXPIRED;
    } else if (s == "revoked") {
      state = v1::TOKEN_STATE_REVOKED;
    } else if (s == "stale") {
      state = v1::TOKEN_STATE_STALE;
    } else {
      return UsageError(inv,
                        "--state must be active, expired, revoked or stale");
    }
    request.set_state(state);
  }
  if (inv.Has("expiring-within")) {
    absl::Duration d;
    if (!ParseDurationArg(inv.Get("expiring-within"), &d).ok()) {
      return UsageError(inv, "--expiring-within: a duration such as 7d");
    }
    *request.mutable_expiring_within() =
        TimeUtil::SecondsToDuration(absl::ToInt64Seconds(d));
  }
  if (inv.Has("user-id")) {
    int64_t id = 0;
    if (!absl::SimpleAtoi(inv.Get("user-id"), &id) || id <= 0) {
      return UsageError(inv, "--user-id: a positive number");
    }
    request.set_user_id(id);
  }
  auto stub = v1::TokenService::NewStub(inv.Channel());
  v1::ListTokensResponse all;
  do {
    std::unique_ptr<grpc::ClientContext> context = inv.CallerContext();
    if (context == nullptr) return kExitAuth;
    v1::ListTokensResponse page;
    grpc::Status status = stub->ListTokens(context.get(), request, &page);
    if (!status.ok()) return Fail(inv, status);
    for (v1::Token& t : *page.mutable_tokens()) {
      *all.add_tokens() = std::move(t);
    }
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());

  if (inv.output == Output::kJson) {
    PrintJson(all);
    return kExitOk;
  }
  if (all.tokens().empty()) {
    std::cout << "No tokens.\n";
    return kExitOk;
  }
  std::cout << TokenTableHeader();
  for (const v1::Token& t : all.tokens()) std::cout << TokenTableRow(t);
  return kExitOk;
}

int TokenGet(Invocation& inv) {
  std::unique_ptr<grpc::ClientContext> context = inv.CallerContext();
  if (context == nullptr) return kExitAuth;
  v1::GetTokenRequest request;
  request.set_id(inv.args[0]);
  v1::GetTokenResponse response;
  grpc::Status status = v1::TokenService::NewStub(inv.Channel())
                            ->GetToken(context.get(), request, &response);
  if (!status.ok()) return Fail(inv, status);
  if (inv.output == Output::kJson) {
    PrintJson(response);
  } else {
    std::cout << TokenDetails(response.token());
  }
  return kExitOk;
}

int TokenUpdate(Invocation& inv) {
  v1::UpdateTokenRequest request;
  v1::Token* token = request.mutable_token();
  token->set_id(inv.args[0]);
  auto* mask = request.mutable_update_mask();
  if (inv.Has("name")) {
    token->set_name(inv.Get("name"));
    mask->add_paths("name");
  }
  const int expiry_flags =
      inv.Has("ttl") + inv.Has("expires-at") + inv.Has("no-expiry");
  if (expiry_flags > 1) {
    return UsageError(inv, "give one of --ttl, --expires-at, --no-expiry");
  }
  if (inv.Has("ttl")) {
    absl::Duration ttl;
    if (!ParseDurationArg(inv.Get("ttl"), &ttl).ok() ||
        ttl <= absl::ZeroDuration()) {
      return UsageError(inv, "--ttl: a positive duration such as 30d");
    }
    // UpdateToken takes an absolute time; the lifetime counts from now.
    *token->mutable_expire_time() =
        TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(absl::Now() + ttl));
  }
  if (inv.Has("expires-at")) {
    absl::Time t;
    if (absl::Status s = ParseTimeArg(inv.Get("expires-at"), &t); !s.ok()) {
      return UsageError(inv, absl::StrCat("--expires-at: ", s.message()));
    }
    *token->mutable_expire_time() =
        TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(t));
  }
  if (expiry_flags == 1) mask->add_paths("expire_time");

  const bool permissions =
      inv.Has("access") || inv.Has("scope") || inv.Has("no-scopes");
  if (inv.Has("scope") && inv.Has("no-scopes")) {
    return UsageError(inv, "give --scope or --no-scopes, not both");
  }
  if (mask->paths().empty() && !permissions) {
    return UsageError(inv,
                      "nothing to change: give --name, --access, --scope, "
                      "--no-scopes, --ttl, --expires-at or --no-expiry");
  }
  auto stub = v1::TokenService::NewStub(inv.Channel());
  if (permissions) {
    // Permissions are replaced as a whole: start from the current ones.
    std::unique_ptr<grpc::ClientContext> context = inv.CallerContext();
    if (context == nullptr) return kExitAuth;
    v1::GetTokenRequest get;
    get.set_id(inv.args[0]);
    v1::GetTokenResponse current;
    grpc::Status status = stub->GetToken(context.get(), get, &current);
    if (!status.ok()) return Fail(inv, status);
    *token->mutable_permissions() = current.token().permissions();
    if (inv.Has("access")) {
      v1::TokenAccess access;
      if (std::string e = ParseAccess(inv, &access); !e.empty()) {
        return UsageError(inv, e);
      }
      token->mutable_permissions()->set_access(access);
    }
    if (inv.Has("scope") || inv.Has("no-scopes")) {
      token->mutable_permissions()->clear_scopes();
      for (const std::string& scope : inv.GetAll("scope")) {
        token->mutable_permissions()->add_scopes(scope);
      }
    }
    mask->add_paths("permissions");
  }
  std::unique_ptr<grpc::ClientContext> context = inv.CallerContext();
  if (context == nullptr) return kExitAuth;
  v1::UpdateTokenResponse response;
  grpc::Status status = stub->UpdateToken(context.get(), request, &response);
  if (!status.ok()) return Fail(inv, status);
  if (inv.output == Output::kJson) {
    PrintJson(response);
  } else {
    std::cout << "Updated " << absl::StrJoin(mask->paths(), ", ") << ".\n"
              << TokenDetails(response.token());
  }
  return kExitOk;
}

int TokenRevoke(Invocation& inv) {
  std::unique_ptr<grpc::ClientContext> context = inv.CallerContext();
  if (context == nullptr) return kExitAuth;
  v1::RevokeTokenRequest request;
  request.set_id(inv.args[0]);
  v1::RevokeTokenResponse response;
  grpc::Status status = v1::TokenService::NewStub(inv.Channel())
                            ->RevokeToken(context.get(), request, &response);
  if (!status.ok()) return Fail(inv, status);
  if (inv.output == Output::kJson) {
    PrintJson(response);
  } else {
    std::cout << "Revoked token " << response.token().id() << " \""
              << response.token().name() << "\".\n";
  }
  return kExitOk;
}

int TokenRotate(Invocation& inv) {
  v1::RotateTokenRequest request;
  request.set_id(inv.args[0]);
  if (std::string e = SetExpiration(inv, &request); !e.empty()) {
    return UsageError(inv, e);
  }
  request.set_request_id(inv.Get("request-id"));
  std::unique_ptr<grpc::ClientContext> context = inv.CallerContext();
  if (context == nullptr) return kExitAuth;
  v1::RotateTokenResponse response;
  grpc::Status status = v1::TokenService::NewStub(inv.Channel())
                            ->RotateToken(context.get(), request, &response);
  if (!status.ok()) return Fail(inv, status);
  if (inv.output == Output::kJson) {
    PrintJson(response);
    return kExitOk;
  }
  const v1::Token& t = response.token();
  if (response.replayed()) {
    std::cout << "Token " << inv.args[0] << " was already rotated into "
              << t.id()
              << " by an earlier request with this --request-id; the value "
                 "was shown then.\n";
    return kExitOk;
  }
  std::cout << "Revoked token " << response.rotated_token().id()
            << " and created its successor " << t.id() << " \"" << t.name()
            << "\" (" << AccessName(t.permissions().access()) << ", "
            << Expiry(t) << ").\n";
  PrintValueOnce(response.value());
  return kExitOk;
}

const Flag kTtl = {"ttl", Flag::kValue, "DURATION",
                   "lifetime from now, e.g. 30d, 12h, 90m"};
const Flag kExpiresAt = {"expires-at", Flag::kValue, "TIME",
                         "expiration as RFC 3339, e.g. 2025-01-31T00:00:00Z"};
const Flag kRequestId = {
    "request-id", Flag::kValue, "ID",
    "idempotency key (e.g. a UUID): a retry with the same ID creates nothing"};

}  // namespace

std::vector<Command> TokenCommands() {
  return {
      {"token",
       "create",
       "",
       0,
       0,
       "Create a token; its value is printed once.",
       "The value is printed once, here, and can never be shown again: the\n"
       "server keeps only a hash. With --output json it is the \"value\"\n"
       "field. Tokens are read-only unless --access write. Needs a login\n"
       "(a token cannot create tokens).\n",
       {{"name", Flag::kValue, "NAME", "display name (required)"},
        {"access", Flag::kValue, "read|write",
         "what the token may do (default read)"},
        {"scope", Flag::kList, "SCOPE", "limit the token to this scope"},
        kTtl,
        kExpiresAt,
        kRequestId},
       TokenCreate},
      {"token",
       "list",
       "",
       0,
       0,
       "List your tokens (newest first).",
       "Usable tokens by default; --all adds expired, stale and revoked "
       "ones.\n",
       {{"all", Flag::kBool, "", "also list unusable tokens"},
        {"state", Flag::kValue, "STATE",
         "only tokens in this state: active, expired, revoked, stale"},
        {"name-contains", Flag::kValue, "TEXT", "only names containing TEXT"},
        {"expiring-within", Flag::kValue, "DURATION",
         "only usable tokens expiring within DURATION, e.g. 7d"},
        {"user-id", Flag::kValue, "N", "another user's tokens (admin)"}},
       TokenList},
      {"token", "get", "ID", 1, 1, "Show one token.", "", {}, TokenGet},
      {"token",
       "update",
       "ID",
       1,
       1,
       "Rename a token, or change its permissions or expiration.",
       "Only what you give changes. --scope replaces the scopes; --access\n"
       "alone keeps them.\n",
       {{"name", Flag::kValue, "NAME", "new name"},
        {"access", Flag::kValue, "read|write", "new access"},
        {"scope", Flag::kList, "SCOPE", "the new scopes (replace the old)"},
        {"no-scopes", Flag::kBool, "", "remove every scope restriction"},
        kTtl,
        kExpiresAt,
        {"no-expiry", Flag::kBool, "", "the token no longer expires"}},
       TokenUpdate},
      {"token",
       "revoke",
       "ID",
       1,
       1,
       "Revoke a token. Irreversible.",
       "",
       {},
       TokenRevoke},
      {"token",
       "rotate",
       "ID",
       1,
       1,
       "Replace a token by a new one; the value is printed once.",
       "The successor keeps the name and permissions, and the old lifetime\n"
       "unless --ttl or --expires-at. Using the old value again afterwards\n"
       "is taken as a leak and revokes the whole family.\n",
       {kTtl, kExpiresAt, kRequestId},
       TokenRotate},
  };
}

}  // namespace tokenauth::cli
