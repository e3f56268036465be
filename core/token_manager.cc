#include "core/token_manager.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/duration.h"
#include "core/errors.h"
#include "core/page_token.h"
#include "core/status_macros.h"
#include "core/validation.h"

namespace tokenauth {
namespace {

// 10000-01-01T00:00:00Z: google.protobuf.Timestamp ends just before.
const absl::Time kEndOfTimestamps = absl::FromUnixSeconds(253402300800);

// Times are stored to the microsecond; judge them as they will be stored.
std::optional<absl::Time> ToMicros(std::optional<absl::Time> t) {
  if (t.has_value()) t = absl::FromUnixMicros(absl::ToUnixMicros(*t));
  return t;
}

absl::Status ValidateTokenId(absl::string_view field, absl::string_view id) {
  bool ok = id.size() == TokenFormat::kIdLength;
  for (char c : id)
    ok = ok && absl::ascii_isalnum(static_cast<unsigned char>(c));
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": must be ", TokenFormat::kIdLength,
        " characters from [0-9A-Za-z] (Token.id, not the token value)"));
  }
  return absl::OkStatus();
}

absl::Status NotFound(absl::string_view id) {
  return WithReason(
      absl::NotFoundError(absl::StrCat("token ", id, ": not found")),
      reasons::kTokenNotFound, {{"token_id", id}});
}

std::string OptionalTime(const std::optional<absl::Time>& t) {
  return t ? absl::StrCat(absl::ToUnixNanos(*t)) : "-";
}

// What makes two requests "the same" for an idempotency key.
std::string Fingerprint(absl::string_view what, absl::string_view subject,
                        const TokenManager::Expiration& e,
                        const Permissions* permissions) {
  std::string canonical = absl::StrCat(
      what, "\n", subject, "\n", OptionalTime(e.expire_time), "\n",
      e.ttl ? absl::StrCat(absl::ToInt64Nanoseconds(*e.ttl)) : "-");
  if (permissions != nullptr) {
    absl::StrAppend(&canonical, "\n",
                    permissions->access == Access::kReadOnly ? "ro" : "rw",
                    "\n", absl::StrJoin(permissions->scopes, " "));
  }
  return TokenFormat::Hash(canonical);
}

}  // namespace

absl::Status ValidateRequestId(absl::string_view request_id) {
  bool ok = !request_id.empty() && request_id.size() <= 64;
  for (char c : request_id) {
    ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                c == '.' || c == '_' || c == '-');
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        "request_id: must be 1..64 characters from [A-Za-z0-9._-] (a UUID "
        "fits)");
  }
  return absl::OkStatus();
}

absl::Status RequireNonTokenCaller(const AuthResult& caller,
                                   absl::string_view what) {
  if (caller.kind == CredentialKind::kAccessToken) {
    return WithReason(
        absl::PermissionDeniedError(absl::StrCat(
            "caller: authenticated by an access token, which cannot ", what,
            "; use a password (Basic) or a session")),
        reasons::kTokenCallerNotAllowed);
  }
  return absl::OkStatus();
}

TokenManager::TokenManager(Store* store, Clock* clock, Random* random,
                           const TokenFormat* format, TokenPolicy policy,
                           const AuditLog* audit, AuthCache* cache)
    : store_(store),
      clock_(clock),
      random_(random),
      format_(format),
      policy_(std::move(policy)),
      audit_(audit),
      cache_(cache) {}

void TokenManager::ForgetCachedAnswers(int64_t user_id) {
  if (cache_ != nullptr) cache_->InvalidateUser(user_id);
}

TokenState TokenManager::StateOf(const TokenRecord& token) {
  return tokenauth::StateOf(token, policy_, clock_->Now());
}

absl::Status TokenManager::CheckExpirationPolicy(
    absl::string_view field, const std::optional<absl::Time>& expire,
    absl::Time now) const {
  if (!expire.has_value()) {
    if (policy_.require_expiration) {
      return WithReason(absl::InvalidArgumentError(
                            absl::StrCat(field,
                                         ": required; tokens must expire "
                                         "(ACCESS_TOKEN_REQUIRE_EXPIRATION)")),
                        reasons::kExpirationRequired);
    }
    return absl::OkStatus();
  }
  if (*expire <= now) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be in the future"));
  }
  if (*expire >= kEndOfTimestamps) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be before the year 10000"));
  }
  if (policy_.max_lifetime.has_value() &&
      *expire > now + *policy_.max_lifetime) {
    return WithReason(
        absl::InvalidArgumentError(absl::StrCat(
            field, ": at most ", FormatSettingDuration(*policy_.max_lifetime),
            " from now (ACCESS_TOKEN_MAX_LIFETIME)")),
        reasons::kLifetimeTooLong,
        {{"max_lifetime_seconds",
          absl::StrCat(absl::ToInt64Seconds(*policy_.max_lifetime))}});
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<absl::Time>> TokenManager::ResolveExpiration(
    const Expiration& e, std::optional<absl::Duration> fallback,
    absl::Time now) const {
  if (e.expire_time.has_value() && e.ttl.has_value()) {
    return absl::InvalidArgumentError(
        "expiration: give expire_time or ttl, not both");
  }
  std::optional<absl::Time> expire = e.expire_time;
  std::string field = "expire_time";
  if (e.ttl.has_value()) {
    if (*e.ttl <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError("ttl: must be positive");
    }
    expire = now + *e.ttl;
    field = "ttl";
  } else if (!expire.has_value() && fallback.has_value()) {
    expire = now + *fallback;
  }
  expire = ToMicros(expire);
  RETURN_IF_ERROR(CheckExpirationPolicy(field, expire, now));
  return expire;
}

TokenRecord TokenManager::NewRecord(const AuthResult& caller, absl::Time now,
                                    std::string* value) {
  TokenFormat::NewToken fresh = format_->Generate(*random_);
  TokenRecord record;
  record.public_id = fresh.public_id;
  record.user_id = caller.principal.user_id;
  record.value_hash = TokenFormat::Hash(fresh.value);
  record.hint = fresh.hint;
  record.create_time = now;
  record.update_time = now;
  *value = std::move(fresh.value);
  return record;
}

absl::StatusOr<TokenManager::Created> TokenManager::Create(
    const AuthResult& caller, const CreateParams& params) {
  RETURN_IF_ERROR(RequireNonTokenCaller(caller, "create tokens"));
  RETURN_IF_ERROR(ValidateTokenName("name", params.name));
  RETURN_IF_ERROR(ValidateScopes("permissions.scopes",
                                 params.permissions.scopes,
                                 policy_.scope_catalogue));
  if (!params.request_id.empty()) {
    RETURN_IF_ERROR(ValidateRequestId(params.request_id));
  }
  const absl::Time now = clock_->Now();
  ASSIGN_OR_RETURN(
      std::optional<absl::Time> expire,
      ResolveExpiration(params.expiration, policy_.default_lifetime, now));

  Created created;
  TokenRecord record = NewRecord(caller, now, &created.value);
  record.name = params.name;
  record.permissions = params.permissions;
  record.expire_time = expire;
  std::optional<IdempotencyKey> key;
  if (!params.request_id.empty()) {
    key = IdempotencyKey{"CreateToken", params.request_id,
                         Fingerprint("create", params.name, params.expiration,
                                     &params.permissions),
                         now - kIdempotencyWindow};
  }
  absl::StatusOr<InsertTokenResult> stored =
      store_->InsertToken(record, policy_.max_tokens_per_user,
                          UsableAtTime(policy_, now), key ? &*key : nullptr);
  if (absl::IsResourceExhausted(stored.status())) {
    return WithReason(
        absl::ResourceExhaustedError(absl::StrCat(
            "tokens: the limit of ", policy_.max_tokens_per_user,
            " usable tokens per user (MAX_ACCESS_TOKENS_PER_USER) is reached; "
            "revoke one first")),
        reasons::kTokenLimitReached,
        {{"limit", absl::StrCat(policy_.max_tokens_per_user)}});
  }
  if (absl::IsAlreadyExists(stored.status())) {
    return WithReason(
        absl::AlreadyExistsError(
            "request_id: already used by another CreateToken request with "
            "different parameters; use a new request_id"),
        reasons::kRequestIdReused, {{"field", "request_id"}});
  }
  RETURN_IF_ERROR(stored.status());
  created.token = std::move(stored->token);
  created.replayed = stored->replayed;
  if (created.replayed) {
    created.value.clear();  // Shown to the first request only.
  } else if (audit_ != nullptr) {
    audit_->Record(caller, caller.peer, audit::kTokenCreate,
                   caller.principal.user_id, created.token.public_id,
                   absl::StrCat("name_bytes=", created.token.name.size()));
  }
  return created;
}

absl::StatusOr<TokenRecord> TokenManager::LoadFor(const AuthResult& caller,
                                                  absl::string_view id,
                                                  Intent intent) {
  RETURN_IF_ERROR(ValidateTokenId("id", id));
  absl::StatusOr<TokenRecord> token = store_->GetToken(id);
  if (absl::IsNotFound(token.status())) return NotFound(id);
  RETURN_IF_ERROR(token.status());
  const bool own = token->user_id == caller.principal.user_id;
  const bool admin_may = caller.principal.admin && intent != Intent::kChange;
  if (!own && !admin_may) return NotFound(id);  // Do not reveal others'.
  // Revocation is final: a revoked token can only be seen in listings.
  if (token->revoke_time.has_value()) return NotFound(id);
  return token;
}

absl::StatusOr<TokenRecord> TokenManager::Get(const AuthResult& caller,
                                              absl::string_view id) {
  return LoadFor(caller, id, Intent::kRead);
}

absl::StatusOr<TokenManager::Page> TokenManager::List(
    const AuthResult& caller, const ListParams& params) {
  if (params.user_id < 0) {
    return absl::InvalidArgumentError("user_id: must not be negative");
  }
  const int64_t user_id =
      params.user_id == 0 ? caller.principal.user_id : params.user_id;
  if (user_id != caller.principal.user_id && !caller.principal.admin) {
    return WithReason(absl::PermissionDeniedError(
                          "user_id: only admins may list other users' tokens"),
                      reasons::kAdminRequired);
  }
  if (params.page_size < 0) {
    return absl::InvalidArgumentError("page_size: must not be negative");
  }
  if (params.name_contains.size() > kMaxTokenNameBytes) {
    return absl::InvalidArgumentError("name_contains: at most 255 bytes");
  }
  if (params.expiring_within.has_value() &&
      *params.expiring_within <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("expiring_within: must be positive");
  }
  const int page_size = params.page_size == 0
                            ? kDefaultPageSize
                            : std::min(params.page_size, kMaxPageSize);

  const absl::Time now = clock_->Now();
  TokenListQuery query;
  query.user_id = user_id;
  query.limit = page_size + 1;  // One extra row tells whether more follow.
  query.at = UsableAtTime(policy_, now);
  query.name_contains = params.name_contains;
  if (params.state.has_value()) {
    query.state = params.state;
  } else if (!params.show_unusable || params.expiring_within.has_value()) {
    query.state = TokenState::kActive;
  }
  if (params.expiring_within.has_value()) {
    query.expire_before = now + *params.expiring_within;
  }
  // The cursor is bound to the viewer, the owner and every filter.
  const std::string listing = absl::StrCat(
      "tokens:", caller.principal.user_id, ":", user_id, ":",
      query.state ? static_cast<int>(*query.state) : -1, ":",
      params.expiring_within
          ? absl::StrCat(absl::ToInt64Nanoseconds(*params.expiring_within))
          : "-",
      ":", params.name_contains);
  if (!params.page_token.empty()) {
    ASSIGN_OR_RETURN(PageCursor cursor,
                     DecodePageToken(params.page_token, listing));
    query.before_row = cursor.before_row;
  }

  ASSIGN_OR_RETURN(std::vector<TokenRecord> rows, store_->ListTokens(query));
  Page page;
  if (static_cast<int>(rows.size()) > page_size) {
    rows.resize(page_size);
    page.next_page_token = EncodePageToken(rows.back().row_id, listing);
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
        "update_mask: must name at least one of name, expire_time, "
        "permissions");
  }
  std::vector<absl::string_view> fields;
  if (update.name) {
    RETURN_IF_ERROR(ValidateTokenName("token.name", *update.name));
    fields.push_back("name");
  }
  if (update.permissions) {
    RETURN_IF_ERROR(ValidateScopes("token.permissions.scopes",
                                   update.permissions->scopes,
                                   policy_.scope_catalogue));
    fields.push_back("permissions");
  }
  const absl::Time now = clock_->Now();
  TokenUpdate change = update;
  if (change.expire_time) {
    *change.expire_time = ToMicros(*change.expire_time);
    RETURN_IF_ERROR(
        CheckExpirationPolicy("token.expire_time", *change.expire_time, now));
    fields.push_back("expire_time");
  }
  ASSIGN_OR_RETURN(TokenRecord current, LoadFor(caller, id, Intent::kChange));
  if (change.expire_time && StateOf(current) != TokenState::kActive) {
    // Reviving an expired or stale token would also slip past the per-user
    // limit, which counts usable tokens only when they are created.
    return WithReason(
        absl::FailedPreconditionError(absl::StrCat(
            "token ", id,
            ": expired or stale; its expiration cannot be changed any more, "
            "create a new token")),
        reasons::kTokenUnusable, {{"token_id", id}});
  }
  absl::StatusOr<TokenRecord> updated = store_->UpdateToken(id, change, now);
  ForgetCachedAnswers(current.user_id);
  if (absl::IsNotFound(updated.status())) return NotFound(id);
  RETURN_IF_ERROR(updated.status());
  if (audit_ != nullptr) {
    audit_->Record(caller, caller.peer, audit::kTokenUpdate, updated->user_id,
                   id, absl::StrCat("fields=", absl::StrJoin(fields, ",")));
  }
  return updated;
}

absl::StatusOr<TokenRecord> TokenManager::Revoke(const AuthResult& caller,
                                                 absl::string_view id) {
  RETURN_IF_ERROR(RequireNonTokenCaller(caller, "revoke tokens"));
  ASSIGN_OR_RETURN(TokenRecord current, LoadFor(caller, id, Intent::kRevoke));
  absl::StatusOr<TokenRecord> revoked = store_->RevokeToken(id, clock_->Now());
  ForgetCachedAnswers(current.user_id);
  if (absl::IsNotFound(revoked.status())) return NotFound(id);
  RETURN_IF_ERROR(revoked.status());
  if (audit_ != nullptr) {
    audit_->Record(caller, caller.peer, audit::kTokenRevoke, revoked->user_id,
                   id);
  }
  return revoked;
}

absl::StatusOr<TokenManager::Rotated> TokenManager::Rotate(
    const AuthResult& caller, absl::string_view id,
    const Expiration& expiration, absl::string_view request_id) {
  RETURN_IF_ERROR(RequireNonTokenCaller(caller, "rotate tokens"));
  RETURN_IF_ERROR(ValidateTokenId("id", id));
  if (!request_id.empty()) RETURN_IF_ERROR(ValidateRequestId(request_id));
  const absl::Time now = clock_->Now();
  absl::StatusOr<TokenRecord> old = store_->GetToken(id);
  if (absl::IsNotFound(old.status())) return NotFound(id);
  RETURN_IF_ERROR(old.status());
  if (old->user_id != caller.principal.user_id) return NotFound(id);

  // Without an expiration in the request: the old token's lifetime again,
  // or the default lifetime if it had none.
  std::optional<absl::Duration> fallback = policy_.default_lifetime;
  if (old->expire_time.has_value()) {
    fallback = *old->expire_time - old->create_time;
  }
  Rotated rotated;
  TokenRecord successor = NewRecord(caller, now, &rotated.value);
  successor.name = old->name;
  successor.permissions = old->permissions;
  std::optional<IdempotencyKey> key;
  if (!request_id.empty()) {
    key = IdempotencyKey{"RotateToken", std::string(request_id),
                         Fingerprint("rotate", id, expiration, nullptr),
                         now - kIdempotencyWindow};
  }
  // A replayed rotation must find its key before the old token's state is
  // judged, so the store decides; the expiration is checked only when the
  // token is still live.
  if (!old->revoke_time.has_value()) {
    ASSIGN_OR_RETURN(successor.expire_time,
                     ResolveExpiration(expiration, fallback, now));
  }
  absl::StatusOr<RotateTokenResult> result =
      store_->RotateToken(id, successor, now, key ? &*key : nullptr);
  ForgetCachedAnswers(old->user_id);
  if (absl::IsFailedPrecondition(result.status())) {
    // Rotating a token that was already rotated out: reuse.
    absl::StatusOr<int> family = store_->RevokeTokenFamily(old->family_id, now);
    ForgetCachedAnswers(old->user_id);
    if (audit_ != nullptr) {
      audit_->Record(caller, caller.peer, audit::kTokenReuseDetected,
                     old->user_id, id,
                     absl::StrCat("family=", old->family_id,
                                  " revoked=", family.ok() ? *family : -1));
    }
    RETURN_IF_ERROR(family.status());
    return WithReason(
        absl::NotFoundError(absl::StrCat(
            "token ", id,
            ": already rotated out; reuse detected, so every token of its "
            "family is now revoked")),
        reasons::kTokenReused,
        {{"token_id", id}, {"family_id", old->family_id}});
  }
  if (absl::IsNotFound(result.status())) return NotFound(id);
  if (absl::IsAlreadyExists(result.status())) {
    return WithReason(
        absl::AlreadyExistsError(
            "request_id: already used by another RotateToken request with "
            "different parameters; use a new request_id"),
        reasons::kRequestIdReused, {{"field", "request_id"}});
  }
  RETURN_IF_ERROR(result.status());
  rotated.old_token = std::move(result->old_token);
  rotated.successor = std::move(result->successor);
  rotated.replayed = result->replayed;
  if (rotated.replayed) {
    rotated.value.clear();
  } else if (audit_ != nullptr) {
    audit_->Record(caller, caller.peer, audit::kTokenRotate,
                   rotated.old_token.user_id, id,
                   absl::StrCat("successor=", rotated.successor.public_id));
  }
  return rotated;
}

}  // namespace tokenauth
