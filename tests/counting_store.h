// CountingStore: a Store that forwards every call to a real store and counts
// them, so a test can prove that something happened without touching the
// database. Not a mock: the real MySQL store answers. Thread-safe.
#ifndef TOKENAUTH_TESTS_COUNTING_STORE_H_
#define TOKENAUTH_TESTS_COUNTING_STORE_H_

#include <atomic>

#include "core/store.h"

namespace tokenauth {

class CountingStore : public Store {
 public:
  explicit CountingStore(Store* inner) : inner_(inner) {}

  int calls() const { return calls_.load(); }

  absl::Status Ping() override { return Count(), inner_->Ping(); }
  absl::StatusOr<User> CreateUser(const NewUser& u, absl::Time now) override {
    return Count(), inner_->CreateUser(u, now);
  }
  absl::StatusOr<std::pair<User, bool>> CreateUserIfAbsent(
      const NewUser& u, absl::Time now) override {
    return Count(), inner_->CreateUserIfAbsent(u, now);
  }
  absl::StatusOr<User> GetUserById(int64_t id) override {
    return Count(), inner_->GetUserById(id);
  }
  absl::StatusOr<User> GetUserByName(absl::string_view name) override {
    return Count(), inner_->GetUserByName(name);
  }
  absl::Status SetUserDisabled(int64_t id, bool d, absl::Time now) override {
    return Count(), inner_->SetUserDisabled(id, d, now);
  }
  absl::Status SetPasswordHash(int64_t id, absl::string_view h,
                               absl::Time now) override {
    return Count(), inner_->SetPasswordHash(id, h, now);
  }
  absl::StatusOr<InsertTokenResult> InsertToken(
      const TokenRecord& t, int max, const UsableAt& u,
      const IdempotencyKey* key) override {
    return Count(), inner_->InsertToken(t, max, u, key);
  }
  absl::StatusOr<TokenRecord> GetToken(absl::string_view id) override {
    return Count(), inner_->GetToken(id);
  }
  absl::StatusOr<std::pair<TokenRecord, User>> GetTokenAndOwner(
      absl::string_view id) override {
    return Count(), inner_->GetTokenAndOwner(id);
  }
  absl::StatusOr<std::vector<std::pair<TokenRecord, User>>> GetTokensAndOwners(
      absl::Span<const std::string> ids) override {
    return Count(), inner_->GetTokensAndOwners(ids);
  }
  absl::StatusOr<std::vector<TokenRecord>> ListTokens(
      const TokenListQuery& q) override {
    return Count(), inner_->ListTokens(q);
  }
  absl::StatusOr<TokenRecord> UpdateToken(absl::string_view id,
                                          const TokenUpdate& u,
                                          absl::Time now) override {
    return Count(), inner_->UpdateToken(id, u, now);
  }
  absl::StatusOr<TokenRecord> RevokeToken(absl::string_view id,
                                          absl::Time now) override {
    return Count(), inner_->RevokeToken(id, now);
  }
  absl::StatusOr<RotateTokenResult> RotateToken(
      absl::string_view old_id, const TokenRecord& successor, absl::Time now,
      const IdempotencyKey* key) override {
    return Count(), inner_->RotateToken(old_id, successor, now, key);
  }
  absl::StatusOr<int> RevokeTokenFamily(absl::string_view family_id,
                                        absl::Time now) override {
    return Count(), inner_->RevokeTokenFamily(family_id, now);
  }
  absl::Status RecordTokenUses(const std::vector<TokenUse>& uses,
                               int max_peers) override {
    return Count(), inner_->RecordTokenUses(uses, max_peers);
  }
  absl::StatusOr<std::vector<TokenRecord>> DeleteUnusableTokens(
      const JanitorCutoffs& cutoffs, int batch_size, absl::Time now) override {
    return Count(), inner_->DeleteUnusableTokens(cutoffs, batch_size, now);
  }
  absl::StatusOr<int> DeleteIdempotencyKeys(absl::Time before,
                                            int batch_size) override {
    return Count(), inner_->DeleteIdempotencyKeys(before, batch_size);
  }
  absl::Status AppendAuditEvent(const AuditEvent& event) override {
    return Count(), inner_->AppendAuditEvent(event);
  }
  absl::StatusOr<std::vector<AuditEvent>> ListAuditEvents(
      const AuditQuery& q) override {
    return Count(), inner_->ListAuditEvents(q);
  }
  absl::StatusOr<bool> ReservePasswordCheck(int64_t id, const LockoutRule& r,
                                            absl::Time now) override {
    return Count(), inner_->ReservePasswordCheck(id, r, now);
  }
  absl::Status ClearPasswordFailures(int64_t id) override {
    return Count(), inner_->ClearPasswordFailures(id);
  }
  absl::StatusOr<SessionRecord> InsertSession(const SessionRecord& s) override {
    return Count(), inner_->InsertSession(s);
  }
  absl::StatusOr<SessionRecord> GetSessionBySecretHash(
      absl::string_view hash) override {
    return Count(), inner_->GetSessionBySecretHash(hash);
  }
  absl::StatusOr<SessionRecord> GetSession(absl::string_view handle) override {
    return Count(), inner_->GetSession(handle);
  }
  absl::Status TouchSession(absl::string_view handle,
                            absl::Time seen) override {
    return Count(), inner_->TouchSession(handle, seen);
  }
  absl::StatusOr<SessionRecord> EndSession(absl::string_view handle,
                                           absl::Time now) override {
    return Count(), inner_->EndSession(handle, now);
  }
  absl::StatusOr<int> EndUserSessions(int64_t id, absl::Time now) override {
    return Count(), inner_->EndUserSessions(id, now);
  }
  absl::StatusOr<std::vector<SessionRecord>> ListLiveSessions(
      int64_t id, const SessionLiveAt& live, int limit) override {
    return Count(), inner_->ListLiveSessions(id, live, limit);
  }

 private:
  void Count() { calls_.fetch_add(1); }

  Store* const inner_;
  std::atomic<int> calls_{0};
};

}  // namespace tokenauth

#endif  // TOKENAUTH_TESTS_COUNTING_STORE_H_
