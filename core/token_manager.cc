#include "core/token_manager.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/page_token.h"
#include "core/status_macros.h"
#include "core/validation.h"

namespace tokenauth {
namespace {

absl::Status ValidateTokenId(absl::string_view id) {
  bool ok = id.size() == TokenFormat::kIdLength;
  for (char c : id) ok = ok && absl::ascii_isalnum(static_cast<unsigned char>(c));
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "id: must be ", TokenFormat::kIdLength,
        " characters from [0-9A-Za-z] (Token.id, not the token value)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateExpireTime(absl::string_view field, absl::Time expire,
                                absl::Time now) {
  if (expire <= now) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be in the future"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RequireNonTokenCaller(const AuthResult& caller,
                                   absl::string_view what) {
  if (caller.kind == CredentialKind::kAccessToken) {
    return absl::PermissionDeniedError(absl::StrCat(
        "caller: authenticated by an access token, which cannot ", what,
        "; use a password (Basic) or a session"));
  }
  return absl::OkStatus();
}

TokenManager::TokenManager(Store* store, Clock* clock, Random* random,
                           const TokenFormat* format, TokenPolicy policy)
    : store_(store),
      clock_(clock),
      random_(random),
      format_(format),
      policy_(std::move(policy)) {}

TokenState TokenManager::StateOf(const TokenRecord& token) {
  return tokenauth::StateOf(token, policy_, clock_->Now());
}

absl::StatusOr<TokenManager::Created> TokenManager::Create(
    const AuthResult& caller, const CreateParams& params) {
  RETURN_IF_ERROR(RequireNonTokenCaller(caller, "create tokens"));
  RETURN_IF_ERROR(ValidateTokenName("name", params.name));
  RETURN_IF_ERROR(ValidateScopes("permissions.scopes", params.permissions.scopes,
                                 policy_.scope_catalogue));
  const absl::Time now = clock_->Now();
  if (params.expire_time.has_value() && params.ttl.has_value()) {
    return absl::InvalidArgumentError(
        "expiration: give expire_time or ttl, not both");
  }
  std::optional<absl::Time> expire = params.expire_time;
  if (params.ttl.has_value()) {
    if (*params.ttl <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError("ttl: must be positive");
    }
    expire = now + *params.ttl;
  }
  if (expire.has_value()) {
    RETURN_IF_ERROR(ValidateExpireTime("expire_time", *expire, now));
  }

  TokenFormat::NewToken fresh = format_->Generate(*random_);
  TokenRecord record;
  record.public_id = fresh.public_id;
  record.user_id = caller.principal.user_id;
  record.name = params.name;
  record.value_hash = TokenFormat::Hash(fresh.value);
  record.hint = fresh.hint;
  record.permissions = params.permissions;
  record.create_time = now;
  record.update_time = now;
  record.expire_time = expire;
  absl::StatusOr<TokenRecord> stored = store_->InsertToken(
      record, policy_.max_tokens_per_user, UsableAtTime(policy_, now));
  if (absl::IsResourceExhausted(stored.status())) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "tokens: the limit of ", policy_.max_tokens_per_user,
        " usable tokens per user (MAX_ACCESS_TOKENS_PER_USER) is reached; "
        "revoke one first"));
  }
  RETURN_IF_ERROR(stored.status());
  return Created{*std::move(stored), std::move(fresh.value)};
}

absl::StatusOr<TokenRecord> TokenManager::LoadFor(const AuthResult& caller,
                                                  absl::string_view id,
                                                  Intent intent) {
  RETURN_IF_ERROR(ValidateTokenId(id));
  const absl::Status not_found = absl::NotFoundError(
      absl::StrCat("token ", id, ": not found"));
  absl::StatusOr<TokenRecord> token = store_->GetToken(id);
  if (absl::IsNotFound(token.status())) return not_found;
  RETURN_IF_ERROR(token.status());
  const bool own = token->user_id == caller.principal.user_id;
  const bool admin_may = caller.principal.admin && intent != Intent::kChange;
  if (!own && !admin_may) return not_found;  // Do not reveal others' tokens.
  // Revocation is final: a revoked token can only be seen in listings.
  if (token->revoke_time.has_value()) return not_found;
  return token;
}

absl::StatusOr<TokenRecord> TokenManager::Get(const AuthResult& caller,
                                              absl::string_view id) {
  return LoadFor(caller, id, Intent::kRead);
}

absl::StatusOr<TokenManager::Page> TokenManager::List(
    const AuthResult& caller, const ListParams& params) {
  const int64_t user_id =
      params.user_id == 0 ? caller.principal.user_id : params.user_id;
  if (params.user_id < 0) {
    return absl::InvalidArgumentError("user_id: must not be negative");
  }
  if (user_id != caller.principal.user_id && !caller.principal.admin) {
    return absl::PermissionDeniedError(
        "user_id: only admins may list other users' tokens");
  }
  if (params.page_size < 0) {
    return absl::InvalidArgumentError("page_size: must not be negative");
  }
  const int page_size =
      params.page_size == 0 ? kDefaultPageSize
                            : std::min(params.page_size, kMaxPageSize);

  TokenListQuery query;
  query.user_id = user_id;
  query.limit = page_size + 1;  // One extra row tells whether more follow.
  if (!params.page_token.empty()) {
    ASSIGN_OR_RETURN(PageCursor cursor, DecodePageToken(params.page_token));
    if (cursor.user_id != user_id ||
        cursor.show_unusable != params.show_unusable) {
      return absl::InvalidArgumentError(
          "page_token: belongs to a different listing; repeat the request "
          "that returned it with the same user_id and show_unusable");
    }
    query.before_row = cursor.before_row;
  }
  const absl::Time now = clock_->Now();
  if (!params.show_unusable) query.usable_only = UsableAtTime(policy_, now);

  ASSIGN_OR_RETURN(std::vector<TokenRecord> rows, store_->ListTokens(query));
  Page page;
  if (static_cast<int>(rows.size()) > page_size) {
    rows.resize(page_size);
    page.next_page_token = EncodePageToken(
        PageCursor{user_id, rows.back().row_id, params.show_unusable});
  }
  page.tokens = std::move(rows);
  return page;
}

absl::StatusOr<TokenRecord> TokenManager::Update(const AuthResult& caller,
                                                 absl::string_view id,
                                                 const TokenUpdate& update) {
  RETURN_IF_ERROR(RequireNonTokenCaller(caller, "update tokens"));
  if (!update.name && !update.expire_time && !update.permissions) {
    return absl::InvalidArgumentError(
        "update_mask: must name at least one of name, expire_time, permissions");
  }
  if (update.name) RETURN_IF_ERROR(ValidateTokenName("token.name", *update.name));
  if (update.permissions) {
    RETURN_IF_ERROR(ValidateScopes("token.permissions.scopes",
                                   update.permissions->scopes,
                                   policy_.scope_catalogue));
  }
  const absl::Time now = clock_->Now();
  if (update.expire_time && update.expire_time->has_value()) {
    RETURN_IF_ERROR(
        ValidateExpireTime("token.expire_time", **update.expire_time, now));
  }
  RETURN_IF_ERROR(LoadFor(caller, id, Intent::kChange).status());
  absl::StatusOr<TokenRecord> updated = store_->UpdateToken(id, update, now);
  if (absl::IsNotFound(updated.status())) {
    return absl::NotFoundError(absl::StrCat("token ", id, ": not found"));
  }
  return updated;
}

absl::StatusOr<TokenRecord> TokenManager::Revoke(const AuthResult& caller,
                                                 absl::string_view id) {
  RETURN_IF_ERROR(RequireNonTokenCaller(caller, "revoke tokens"));
  RETURN_IF_ERROR(LoadFor(caller, id, Intent::kRevoke).status());
  absl::StatusOr<TokenRecord> revoked = store_->RevokeToken(id, clock_->Now());
  if (absl::IsNotFound(revoked.status())) {
    return absl::NotFoundError(absl::StrCat("token ", id, ": not found"));
  }
  return revoked;
}

}  // namespace tokenauth
