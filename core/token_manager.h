// TokenManager: the Personal Access Token lifecycle (create, read, list,
// update, revoke) with PRODUCT.md's rules: owners see and change only their
// own tokens, admins may read, list and revoke anyone's; a caller
// authenticated by a token may only read; revocation is irreversible; the
// value is returned once, by Create.
//
// Does not own its dependencies; they must outlive it. Thread-safe.
#ifndef TOKENAUTH_CORE_TOKEN_MANAGER_H_
#define TOKENAUTH_CORE_TOKEN_MANAGER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "core/policy.h"
#include "core/random.h"
#include "core/store.h"
#include "core/token_format.h"
#include "core/types.h"

namespace tokenauth {

class TokenManager {
 public:
  static constexpr int kDefaultPageSize = 50;
  static constexpr int kMaxPageSize = 1000;

  TokenManager(Store* store, Clock* clock, Random* random,
               const TokenFormat* format, TokenPolicy policy);

  struct CreateParams {
    std::string name;
    // At most one of these; neither: the token does not expire.
    std::optional<absl::Time> expire_time;
    std::optional<absl::Duration> ttl;
    Permissions permissions;
  };
  struct Created {
    TokenRecord token;
    std::string value;  // Secret; shown to the caller once.
  };
  absl::StatusOr<Created> Create(const AuthResult& caller,
                                 const CreateParams& params);

  absl::StatusOr<TokenRecord> Get(const AuthResult& caller,
                                  absl::string_view id);

  struct ListParams {
    int64_t user_id = 0;  // 0: the caller.
    int page_size = 0;    // 0: kDefaultPageSize.
    std::string page_token;
    bool show_unusable = false;
  };
  struct Page {
    std::vector<TokenRecord> tokens;
    std::string next_page_token;  // Empty on the last page.
  };
  absl::StatusOr<Page> List(const AuthResult& caller,
                            const ListParams& params);

  // `update` names the fields to change; at least one must be set.
  absl::StatusOr<TokenRecord> Update(const AuthResult& caller,
                                     absl::string_view id,
                                     const TokenUpdate& update);

  absl::StatusOr<TokenRecord> Revoke(const AuthResult& caller,
                                     absl::string_view id);

  TokenState StateOf(const TokenRecord& token);
  const TokenPolicy& policy() const { return policy_; }

 private:
  enum class Intent { kRead, kChange, kRevoke };
  // Loads a token the caller may act on, or NOT_FOUND.
  absl::StatusOr<TokenRecord> LoadFor(const AuthResult& caller,
                                      absl::string_view id, Intent intent);

  Store* const store_;
  Clock* const clock_;
  Random* const random_;
  const TokenFormat* const format_;
  const TokenPolicy policy_;
};

// PERMISSION_DENIED when the caller authenticated with a token: `what` needs
// a password (Basic) or a session.
absl::Status RequireNonTokenCaller(const AuthResult& caller,
                                   absl::string_view what);

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_TOKEN_MANAGER_H_
