// The CLI's saved login: one file, $XDG_CONFIG_HOME/tokenauth/profile (or
// ~/.config/tokenauth/profile), holding the server address and either a
// session (ID + CSRF token) or a Personal Access Token. It holds a secret,
// so it is written with mode 0600 in a directory with mode 0700 (created, or
// tightened if it is ours), atomically (a temporary file renamed over it).
// Lines are `key=value`; unknown keys are kept as they are ignored.
//
// Plain functions over the file system; not thread-safe (one CLI process).
#ifndef TOKENAUTH_TOOLS_CLI_PROFILE_H_
#define TOKENAUTH_TOOLS_CLI_PROFILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tokenauth::cli {

struct Profile {
  std::string addr;
  std::string username;
  // A session from Login, or a token; exactly one is set in a saved profile.
  std::string session_id;      // Secret.
  std::string csrf_token;      // Secret.
  std::string session_handle;  // Public id of the session.
  std::string token;           // Secret.

  bool has_session() const { return !session_id.empty(); }
  bool has_token() const { return !token.empty(); }
};

// Where the profile lives, from XDG_CONFIG_HOME or HOME (FAILED_PRECONDITION
// if neither says).
absl::StatusOr<std::string> ProfilePath();

// NOT_FOUND when there is no profile. Sets *loose_permissions when the file
// is readable or writable by others (the caller warns).
absl::StatusOr<Profile> LoadProfile(const std::string& path,
                                    bool* loose_permissions);
absl::Status SaveProfile(const std::string& path, const Profile& profile);
// OK also when there was none.
absl::Status RemoveProfile(const std::string& path);

}  // namespace tokenauth::cli

#endif  // TOKENAUTH_TOOLS_CLI_PROFILE_H_
