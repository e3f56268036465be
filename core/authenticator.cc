#include "core/authenticator.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "core/duration.h"
#include "core/errors.h"
#include "core/status_macros.h"
#include "core/validation.h"

namespace tokenauth {
namespace {

Principal PrincipalOf(const User& user) {
  return Principal{user.id, user.username, user.admin};
}

// The user behind a credential must exist and be enabled.
absl::StatusOr<User> LoadActiveUser(Store& store, int64_t user_id) {
  absl::StatusOr<User> user = store.GetUserById(user_id);
  if (absl::IsNotFound(user.status())) {
    return absl::UnauthenticatedError("credential: its user no longer exists");
  }
  RETURN_IF_ERROR(user.status());
  if (user->disabled) {
    return WithReason(
        absl::UnauthenticatedError("credential: the user is disabled"),
        reasons::kAccountDisabled);
  }
  return user;
}

}  // namespace

// A few threads running refreshes from a bounded queue; work that does not
// fit is dropped (the entry then simply expires). A thread that finds work
// waits up to `gather` for more and takes up to kMaxBatch items at once, so
// that one store read refreshes many tokens. Destruction drops what is still
// queued and waits for the refreshes in progress.
class Authenticator::Refresher {
 public:
  static constexpr size_t kMaxQueued = 10000;
  static constexpr size_t kMaxBatch = TokenReader::kMaxBatch;

  Refresher(int threads, absl::Duration gather,
            std::function<void(std::vector<RefreshItem>)> run)
      : gather_(gather), run_(std::move(run)) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] { Run(); });
    }
  }
  ~Refresher() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    for (std::thread& t : threads_) t.join();
  }

  bool Submit(RefreshItem item) {
    absl::MutexLock lock(&mu_);
    if (stop_ || queue_.size() >= kMaxQueued) return false;
    queue_.push_back(std::move(item));
    return true;
  }

 private:
  bool HasWorkLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stop_ || !queue_.empty();
  }
  bool BatchFullLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stop_ || queue_.size() >= kMaxBatch;
  }

  void Run() {
    while (true) {
      std::vector<RefreshItem> batch;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(this, &Refresher::HasWorkLocked));
        mu_.AwaitWithTimeout(absl::Condition(this, &Refresher::BatchFullLocked),
                             gather_);
        if (stop_) return;
        while (!queue_.empty() && batch.size() < kMaxBatch) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      if (!batch.empty()) run_(std::move(batch));
    }
  }

  const absl::Duration gather_;
  const std::function<void(std::vector<RefreshItem>)> run_;
  absl::Mutex mu_;
  std::deque<RefreshItem> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

Authenticator::~Authenticator() = default;

Authenticator::Authenticator(Store* store, Clock* clock,
                             const TokenFormat* format,
                             const PasswordHasher* hasher, AuthPolicy policy,
                             TokenUseSink* uses, const AuditLog* audit,
                             AuthCache* cache)
    : store_(store),
      clock_(clock),
      format_(format),
      hasher_(hasher),
      policy_(std::move(policy)),
      uses_(uses),
      audit_(audit),
      cache_(cache != nullptr && cache->enabled() ? cache : nullptr),
      reader_(std::make_unique<TokenReader>(store, kMaxTokenReads,
                                            kTokenReadStall)) {
  if (cache_ != nullptr && cache_->options().refresh_threads > 0) {
    // Refreshes start in an entry's last quarter; gathering takes a small
    // part of that.
    const absl::Duration gather =
        std::min(absl::Milliseconds(20), cache_->options().max_age / 16);
    refresher_ = std::make_unique<Refresher>(
        cache_->options().refresh_threads, gather,
        [this](std::vector<RefreshItem> batch) { Refresh(std::move(batch)); });
  }
}

void Authenticator::ForgetUser(int64_t user_id) const {
  if (cache_ != nullptr) cache_->InvalidateUser(user_id);
}

absl::StatusOr<AuthResult> Authenticator::Authenticate(
    const Credential& credential, Operation operation,
    absl::Span<const std::string> required_scopes, absl::string_view peer,
    CacheUse cache_use) const {
  int64_t subject = 0;
  absl::StatusOr<AuthResult> result =
      Check(credential, operation, required_scopes, cache_use, &subject);
  if (result.ok()) {
    Accepted(*result, peer);
    return result;
  }
  const absl::Status& s = result.status();
  // Credentials refused by their shape alone (bad checksum, malformed
  // session ID) are not audited: writing a row for each would hand the
  // database the very load the checksum exists to keep away.
  bool malformed = false;
  if (const auto* t = std::get_if<TokenCredential>(&credential)) {
    malformed = !format_->Parse(t->value).ok();
  } else if (const auto* sc = std::get_if<SessionCredential>(&credential)) {
    malformed = !IsWellFormedSessionSecret(sc->session_id);
  }
  if (audit_ != nullptr && !malformed &&
      (absl::IsUnauthenticated(s) || absl::IsPermissionDenied(s))) {
    AuditEvent event;
    event.type = ReasonOf(s) == reasons::kAccountLocked ? audit::kAuthLockout
                                                        : audit::kAuthFailed;
    event.peer = std::string(peer);
    event.subject_user_id = subject;
    event.details = std::string(s.message());
    // Name what was presented only by its non-secret part.
    if (const auto* basic = std::get_if<BasicCredential>(&credential);
        basic != nullptr && ValidateUsername("", basic->username).ok()) {
      event.credential_kind = "basic";
      event.object_id = basic->username;
    } else if (const auto* token = std::get_if<TokenCredential>(&credential)) {
      event.credential_kind = "access_token";
      absl::StatusOr<std::string> id = format_->Parse(token->value);
      if (id.ok()) event.object_id = *id;
    } else if (std::holds_alternative<SessionCredential>(credential)) {
      event.credential_kind = "session";
    }
    audit_->Record(std::move(event));
  }
  return result;
}

std::optional<absl::StatusOr<AuthResult>> Authenticator::AuthenticateFromMemory(
    const Credential& credential, Operation operation,
    absl::Span<const std::string> required_scopes, absl::string_view peer,
    CacheUse* then) const {
  *then = CacheUse::kAllow;
  if (const auto* token = std::get_if<TokenCredential>(&credential);
      token != nullptr && !format_->Parse(token->value).ok()) {
    // Refused before any store call (and not audited): Authenticate itself.
    return Authenticate(credential, operation, required_scopes, peer);
  }
  if (cache_ == nullptr) return std::nullopt;
  std::optional<AuthResult> hit =
      CachedAnswer(credential, KeyOf(credential), clock_->Now());
  if (!hit.has_value()) {
    // What a miss does next, minus a second lookup (and a second miss).
    *then = CacheUse::kSkip;
    return std::nullopt;
  }
  absl::StatusOr<AuthResult> result =
      Permit(credential, operation, required_scopes, *std::move(hit));
  // A refusal is audited, which writes to the store: Authenticate's job.
  if (!result.ok()) return std::nullopt;
  Accepted(*result, peer);
  return result;
}

void Authenticator::Accepted(AuthResult& result, absl::string_view peer) const {
  result.peer = std::string(peer);
  if (result.token.has_value() && uses_ != nullptr) {
    uses_->Used(*result.token, peer, clock_->Now());
  }
}

absl::StatusOr<AuthResult> Authenticator::Check(
    const Credential& credential, Operation operation,
    absl::Span<const std::string> required_scopes, CacheUse cache_use,
    int64_t* subject) const {
  ASSIGN_OR_RETURN(AuthResult result,
                   ResolveCached(credential, cache_use, subject));
  return Permit(credential, operation, required_scopes, std::move(result));
}

absl::StatusOr<AuthResult> Authenticator::Permit(
    const Credential& credential, Operation operation,
    absl::Span<const std::string> required_scopes, AuthResult result) const {
  if (result.session.has_value()) {
    if (operation == Operation::kRead) return result;
    const std::string& csrf =
        std::get<SessionCredential>(credential).csrf_token;
    if (csrf.empty()) {
      return WithReason(
          absl::PermissionDeniedError(
              "csrf: a write with a session needs its CSRF token (x-csrf-token "
              "header, or csrf_token)"),
          reasons::kCsrfMissing);
    }
    if (!TokenFormat::HashesEqual(result.session->csrf_hash,
                                  TokenFormat::Hash(csrf))) {
      return WithReason(absl::PermissionDeniedError(
                            "csrf: the CSRF token does not match the session"),
                        reasons::kCsrfMismatch);
    }
    return result;
  }
  if (!result.token.has_value()) return result;  // Basic: a user may do all.

  const Permissions& perms = result.token->permissions;
  if (operation == Operation::kWrite && perms.access == Access::kReadOnly) {
    return WithReason(
        absl::PermissionDeniedError(
            "token: read-only; this operation needs a read-write token"),
        reasons::kTokenReadOnly, {{"token_id", result.token->public_id}});
  }
  if (!perms.scopes.empty()) {
    std::vector<std::string> missing;
    for (const std::string& scope : required_scopes) {
      if (std::find(perms.scopes.begin(), perms.scopes.end(), scope) ==
          perms.scopes.end()) {
        missing.push_back(scope);
      }
    }
    if (!missing.empty()) {
      return WithReason(
          absl::PermissionDeniedError(absl::StrCat(
              "token: lacks required scopes: ", absl::StrJoin(missing, ", "))),
          reasons::kScopeMissing,
          {{"token_id", result.token->public_id},
           {"missing_scopes", absl::StrJoin(missing, ",")}});
    }
  }
  return result;
}

absl::StatusOr<AuthResult> Authenticator::ResolveCached(
    const Credential& credential, CacheUse cache_use, int64_t* subject) const {
  auto resolve = [&] {
    return std::visit(
        [this, subject](const auto& c) { return Resolve(c, subject); },
        credential);
  };
  if (cache_ == nullptr) return resolve();
  // A value that fails its checksum goes no further, not even to the cache.
  const auto* token = std::get_if<TokenCredential>(&credential);
  if (token != nullptr && !format_->Parse(token->value).ok()) return resolve();
  const AuthCache::Key key = KeyOf(credential);
  const absl::Time now = clock_->Now();
  if (cache_use == CacheUse::kAllow) {
    if (std::optional<AuthResult> hit = CachedAnswer(credential, key, now)) {
      *subject = hit->principal.user_id;
      return *std::move(hit);
    }
  }
  // The ticket before the read: a change committed after this point makes
  // the entry unusable even if the read below still saw the old state.
  const uint64_t ticket = cache_->Ticket();
  absl::StatusOr<AuthResult> result = resolve();
  if (result.ok()) {
    cache_->Insert(key, *result, ticket, now, ExpiryOf(*result));
  } else if (absl::IsUnauthenticated(result.status())) {
    // A fresh read (skip_cache, or a refresh racing this call) refused it:
    // an older answer must not outlive that on this process.
    cache_->Erase(key);
  }
  return result;
}

AuthCache::Key Authenticator::KeyOf(const Credential& credential) const {
  if (const auto* t = std::get_if<TokenCredential>(&credential)) {
    return cache_->KeyOfToken(t->value);
  }
  if (const auto* b = std::get_if<BasicCredential>(&credential)) {
    return cache_->KeyOfBasic(b->username, b->password);
  }
  return cache_->KeyOfSession(
      std::get<SessionCredential>(credential).session_id);
}

std::optional<AuthResult> Authenticator::CachedAnswer(
    const Credential& credential, const AuthCache::Key& key,
    absl::Time now) const {
  // Basic is not refreshed ahead: each refresh would cost a password hash.
  bool refresh = false;
  const bool refreshable = refresher_ != nullptr &&
                           !std::holds_alternative<BasicCredential>(credential);
  std::optional<AuthResult> hit =
      cache_->Lookup(key, now, refreshable ? &refresh : nullptr);
  if (refresh) refresher_->Submit(RefreshItem{key, credential});
  return hit;
}

void Authenticator::Refresh(std::vector<RefreshItem> batch) const {
  std::vector<const RefreshItem*> tokens;
  std::vector<std::string> ids;
  for (const RefreshItem& item : batch) {
    if (const auto* t = std::get_if<TokenCredential>(&item.credential)) {
      // Only a well-formed value ever reaches the cache.
      absl::StatusOr<std::string> id = format_->Parse(t->value);
      if (!id.ok()) continue;
      tokens.push_back(&item);
      ids.push_back(*std::move(id));
    } else {  // Sessions: one read each.
      const absl::Time now = clock_->Now();
      const uint64_t ticket = cache_->Ticket();
      int64_t subject = 0;
      StoreRefreshed(
          item.key, ticket, now,
          Resolve(std::get<SessionCredential>(item.credential), &subject));
    }
  }
  if (ids.empty()) return;
  // Tokens: one store read for the whole batch.
  const absl::Time now = clock_->Now();
  const uint64_t ticket = cache_->Ticket();
  absl::StatusOr<std::vector<std::pair<TokenRecord, User>>> found =
      store_->GetTokensAndOwners(ids);
  // The store is down: the entries expire by themselves.
  if (!found.ok()) return;
  std::vector<absl::StatusOr<std::pair<TokenRecord, User>>> rows =
      MatchTokenRows(ids, *found);
  for (size_t i = 0; i < tokens.size(); ++i) {
    int64_t subject = 0;
    StoreRefreshed(tokens[i]->key, ticket, now,
                   CheckToken(std::get<TokenCredential>(tokens[i]->credential),
                              std::move(rows[i]), &subject,
                              /*detect_reuse=*/false));
  }
}

void Authenticator::StoreRefreshed(
    const AuthCache::Key& key, uint64_t ticket, absl::Time read_start,
    const absl::StatusOr<AuthResult>& result) const {
  if (result.ok()) {
    cache_->Insert(key, *result, ticket, read_start, ExpiryOf(*result));
  } else if (absl::IsUnauthenticated(result.status()) ||
             absl::IsPermissionDenied(result.status())) {
    cache_->Erase(key);  // Refused now: stop answering from the cache.
  }
  // Anything else (the store is down): the entry expires by itself.
}

absl::Time Authenticator::ExpiryOf(const AuthResult& result) const {
  absl::Time expiry = absl::InfiniteFuture();
  if (result.token.has_value()) {
    const TokenRecord& t = *result.token;
    if (t.expire_time.has_value()) expiry = *t.expire_time;
    expiry = std::min(expiry, t.last_used_time.value_or(t.create_time) +
                                  policy_.tokens.stale_period);
  }
  if (result.session.has_value()) {
    const SessionRecord& s = *result.session;
    expiry = std::min(s.expire_time,
                      s.last_seen_time + policy_.sessions.idle_timeout);
  }
  return expiry;
}

absl::StatusOr<AuthResult> Authenticator::Resolve(
    const TokenCredential& credential, int64_t* subject,
    bool detect_reuse) const {
  // Format and checksum first: a mistyped or forged value costs no query.
  ASSIGN_OR_RETURN(std::string public_id, format_->Parse(credential.value));
  // The token and its owner in one read.
  return CheckToken(credential, reader_->Read(public_id), subject,
                    detect_reuse);
}

absl::StatusOr<AuthResult> Authenticator::CheckToken(
    const TokenCredential& credential,
    absl::StatusOr<std::pair<TokenRecord, User>> found, int64_t* subject,
    bool detect_reuse) const {
  // The same status whether the id or the secret is wrong.
  const absl::Status unknown = WithReason(
      absl::UnauthenticatedError("token: unknown"), reasons::kTokenUnknown);
  if (absl::IsNotFound(found.status())) return unknown;
  RETURN_IF_ERROR(found.status());
  std::optional<TokenRecord> token = std::move(found->first);
  const User& owner = found->second;
  if (!TokenFormat::HashesEqual(token->value_hash,
                                TokenFormat::Hash(credential.value))) {
    return unknown;
  }
  *subject = token->user_id;
  const absl::Time now = clock_->Now();
  if (token->revoke_time.has_value() && token->rotated_to.has_value() &&
      detect_reuse) {
    // A rotated-out value came back: it may have leaked, so its whole
    // family goes (GitLab's reuse detection).
    absl::StatusOr<int> revoked =
        store_->RevokeTokenFamily(token->family_id, now);
    ForgetUser(token->user_id);
    if (audit_ != nullptr) {
      AuditEvent event;
      event.type = audit::kTokenReuseDetected;
      event.subject_user_id = token->user_id;
      event.object_id = token->public_id;
      event.credential_kind = "access_token";
      event.details =
          revoked.ok()
              ? absl::StrCat("family=", token->family_id, " revoked=", *revoked)
              : absl::StrCat("family=", token->family_id,
                             " revoke failed: ", revoked.status().message());
      audit_->Record(std::move(event));
    }
    RETURN_IF_ERROR(revoked.status());
    return WithReason(
        absl::UnauthenticatedError(
            "token: rotated out; reuse detected, so every token of its family "
            "is now revoked"),
        reasons::kTokenReused,
        {{"token_id", token->public_id}, {"family_id", token->family_id}});
  }
  switch (StateOf(*token, policy_.tokens, now)) {
    case TokenState::kActive:
      break;
    case TokenState::kRevoked:
      return WithReason(absl::UnauthenticatedError("token: revoked"),
                        reasons::kTokenRevoked,
                        {{"token_id", token->public_id}});
    case TokenState::kExpired:
      return WithReason(absl::UnauthenticatedError("token: expired"),
                        reasons::kTokenExpired,
                        {{"token_id", token->public_id}});
    case TokenState::kStale:
      return WithReason(
          absl::UnauthenticatedError(absl::StrCat(
              "token: stale (unused for longer than ",
              absl::FormatDuration(policy_.tokens.stale_period), ")")),
          reasons::kTokenStale,
          {{"token_id", token->public_id},
           {"stale_period_seconds",
            absl::StrCat(absl::ToInt64Seconds(policy_.tokens.stale_period))}});
  }
  if (owner.disabled) {
    return WithReason(
        absl::UnauthenticatedError("credential: the user is disabled"),
        reasons::kAccountDisabled);
  }
  AuthResult result;
  result.principal = PrincipalOf(owner);
  result.kind = CredentialKind::kAccessToken;
  result.token = *std::move(token);
  return result;
}

absl::StatusOr<AuthResult> Authenticator::Resolve(
    const BasicCredential& credential, int64_t* subject) const {
  const absl::Status wrong = WithReason(
      absl::UnauthenticatedError("basic: wrong username or password"),
      reasons::kWrongCredentials);
  if (!ValidateUsername("username", credential.username).ok() ||
      credential.password.size() > kMaxPasswordBytes) {
    hasher_->VerifyDummy(credential.password);
    return wrong;
  }
  absl::StatusOr<User> user = store_->GetUserByName(credential.username);
  if (absl::IsNotFound(user.status())) {
    hasher_->VerifyDummy(credential.password);  // Same time as a known user.
    return wrong;
  }
  RETURN_IF_ERROR(user.status());
  *subject = user->id;
  // Count the attempt as a failure before checking it, atomically, so that
  // parallel guesses cannot evaluate more than the threshold.
  ASSIGN_OR_RETURN(bool allowed, store_->ReservePasswordCheck(
                                     user->id, policy_.lockout, clock_->Now()));
  if (!allowed) {
    // Locked: cached answers for this user (a correct password among them)
    // go too, so the lockout holds here at once and within the bound
    // elsewhere.
    ForgetUser(user->id);
    return WithReason(
        absl::UnauthenticatedError(absl::StrCat(
            "basic: too many failed (or simultaneous) password checks for this "
            "account; it is locked for up to ",
            FormatSettingDuration(policy_.lockout.period),
            " after repeated failures; use a token for parallel calls")),
        reasons::kAccountLocked,
        {{"lockout_period_seconds",
          absl::StrCat(absl::ToInt64Seconds(policy_.lockout.period))}});
  }
  if (!hasher_->Verify(user->password_hash, credential.password)) return wrong;
  RETURN_IF_ERROR(store_->ClearPasswordFailures(user->id));
  if (user->disabled) {
    return WithReason(
        absl::UnauthenticatedError("credential: the user is disabled"),
        reasons::kAccountDisabled);
  }
  AuthResult result;
  result.principal = PrincipalOf(*user);
  result.kind = CredentialKind::kBasic;
  return result;
}

absl::StatusOr<AuthResult> Authenticator::Resolve(
    const SessionCredential& credential, int64_t* subject) const {
  if (!IsWellFormedSessionSecret(credential.session_id)) {
    return WithReason(
        absl::UnauthenticatedError(absl::StrCat(
            "session: malformed session ID (expected ", kSessionSecretLength,
            " characters from [0-9A-Za-z])")),
        reasons::kSessionMalformed);
  }
  absl::StatusOr<SessionRecord> session =
      store_->GetSessionBySecretHash(TokenFormat::Hash(credential.session_id));
  if (absl::IsNotFound(session.status())) {
    return WithReason(absl::UnauthenticatedError("session: unknown"),
                      reasons::kSessionUnknown);
  }
  RETURN_IF_ERROR(session.status());
  *subject = session->user_id;
  const absl::Time now = clock_->Now();
  const SessionPolicy& rules = policy_.sessions;
  if (session->end_time.has_value()) {
    return WithReason(
        absl::UnauthenticatedError("session: ended (logged out or revoked)"),
        reasons::kSessionEnded, {{"session_handle", session->handle}});
  }
  if (session->expire_time <= now) {
    return WithReason(
        absl::UnauthenticatedError("session: expired (maximum age reached)"),
        reasons::kSessionExpired,
        {{"session_handle", session->handle}, {"timeout", "max_age"}});
  }
  if (session->last_seen_time + rules.idle_timeout <= now) {
    return WithReason(
        absl::UnauthenticatedError("session: expired (idle too long)"),
        reasons::kSessionExpired,
        {{"session_handle", session->handle}, {"timeout", "idle"}});
  }
  ASSIGN_OR_RETURN(User user, LoadActiveUser(*store_, session->user_id));
  if (now - session->last_seen_time >= rules.touch_interval) {
    // Best effort: a missed update only makes the idle timeout stricter.
    if (store_->TouchSession(session->handle, now).ok()) {
      session->last_seen_time = now;
    }
  }
  AuthResult result;
  result.principal = PrincipalOf(user);
  result.kind = CredentialKind::kSession;
  result.session = *std::move(session);
  return result;
}

bool IsWellFormedSessionSecret(absl::string_view s) {
  if (s.size() != kSessionSecretLength) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace tokenauth
