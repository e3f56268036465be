// Domain types shared by the core rules and the store: users, tokens, and
// the result of an authentication. Plain values; no behaviour, no locking.
#ifndef TOKENAUTH_CORE_TYPES_H_
#define TOKENAUTH_CORE_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace tokenauth {

enum class Access { kReadOnly, kReadWrite };
enum class Operation { kRead, kWrite };
enum class CredentialKind { kBasic, kSession, kAccessToken };

struct Permissions {
  Access access = Access::kReadOnly;
  std::vector<std::string> scopes;  // Empty: not restricted by scope.

  bool operator==(const Permissions& o) const {
    return access == o.access && scopes == o.scopes;
  }
};

struct User {
  int64_t id = 0;
  std::string username;
  std::string password_hash;  // libsodium crypto_pwhash_str (Argon2id).
  bool admin = false;
  bool disabled = false;
  absl::Time create_time;
  absl::Time update_time;
};

// A stored Personal Access Token. Holds only the hash of the value.
struct TokenRecord {
  int64_t row_id = 0;     // Storage key; orders listings. Never shown.
  std::string public_id;  // Non-secret id, embedded in the value.
  int64_t user_id = 0;
  std::string name;
  std::string value_hash;  // Lower-case hex SHA-256 of the value.
  std::string hint;        // Prefix, id and the value's last characters.
  Permissions permissions;
  absl::Time create_time;
  absl::Time update_time;
  std::optional<absl::Time> expire_time;
  std::optional<absl::Time> last_used_time;
  std::optional<absl::Time> revoke_time;
  // Rotation: every token of a family shares the public id of the first one;
  // a token rotated out names its successor.
  std::string family_id;  // Empty on insert: the token starts a family.
  std::optional<std::string> rotated_to;
  // Distinct peer addresses of the last uses, most recent first (at most 5).
  std::vector<std::string> last_used_peers;
};

// One entry of the audit log. Never holds a secret.
struct AuditEvent {
  int64_t id = 0;  // Assigned by the store; orders the log.
  absl::Time time;
  std::string type;             // e.g. "token.create"; see core/audit.h.
  int64_t actor_user_id = 0;    // Who did it; 0 if unknown (failed logins).
  int64_t subject_user_id = 0;  // Whose resource; 0 if none.
  std::string object_id;        // Token id, session handle or username.
  std::string credential_kind;  // "basic", "session", "access_token" or "".
  std::string peer;             // Caller's address, at most 128 bytes.
  std::string details;          // e.g. "fields=name,permissions".
};

enum class TokenState { kActive, kExpired, kRevoked, kStale };

// A login session. Holds only hashes of the session ID and the CSRF token.
struct SessionRecord {
  int64_t row_id = 0;
  std::string handle;  // Public, non-secret id: lists and RevokeSession.
  int64_t user_id = 0;
  std::string secret_hash;  // Lower-case hex SHA-256 of the session ID.
  std::string csrf_hash;    // Lower-case hex SHA-256 of the CSRF token.
  absl::Time create_time;
  absl::Time last_seen_time;           // Written at most once a minute.
  absl::Time expire_time;              // Absolute end: create_time + max age.
  std::optional<absl::Time> end_time;  // Logout or revocation.
  std::string peer;        // Peer address at login, at most 128 bytes.
  std::string user_agent;  // As given at login, at most 256 bytes.
};

// Who a credential resolved to.
struct Principal {
  int64_t user_id = 0;
  std::string username;
  bool admin = false;
};

// The outcome of a successful authentication.
struct AuthResult {
  Principal principal;
  CredentialKind kind = CredentialKind::kBasic;
  std::optional<TokenRecord> token;      // Set when kind == kAccessToken.
  std::optional<SessionRecord> session;  // Set when kind == kSession.
  std::string peer;  // The caller's address, for the audit log.
};

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_TYPES_H_
