#include "tokenauth/client/token_check.h"

#include "core/token_format.h"

namespace tokenauth::client {

absl::StatusOr<std::string> TokenIdOf(absl::string_view token,
                                      absl::string_view prefix) {
  if (absl::Status status = TokenFormat::ValidatePrefix(prefix); !status.ok()) {
    return status;
  }
  return TokenFormat(std::string(prefix)).Parse(token);
}

absl::Status CheckTokenFormat(absl::string_view token,
                              absl::string_view prefix) {
  return TokenIdOf(token, prefix).status();
}

}  // namespace tokenauth::client
