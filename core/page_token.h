// Page tokens for ListTokens: an opaque cursor bound to the listing it came
// from (whose tokens), so a token from one user's listing is refused in
// another's. Not a secret and not signed: the listing itself is always
// filtered by the authorised user, so a forged cursor can only move within
// what the caller may already see. Stateless; thread-safe.
#ifndef TOKENAUTH_CORE_PAGE_TOKEN_H_
#define TOKENAUTH_CORE_PAGE_TOKEN_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tokenauth {

struct PageCursor {
  int64_t user_id = 0;     // Whose listing.
  int64_t before_row = 0;  // Continue with rows below this one.
  bool show_unusable = false;
};

std::string EncodePageToken(const PageCursor& cursor);
// INVALID_ARGUMENT ("page_token: ...") for anything Encode did not make.
absl::StatusOr<PageCursor> DecodePageToken(absl::string_view token);

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_PAGE_TOKEN_H_
