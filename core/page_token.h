// Page tokens: an opaque cursor bound to the listing it came from. The
// listing is described by a string naming the viewer and every filter
// (e.g. "tokens:<caller>:<user>:<state>:..."); a token used with any other
// listing, e.g. by another user or with other filters, is refused. Not
// signed: listings are always filtered by what the caller may see, so a
// forged cursor can only move within that. Stateless; thread-safe.
#ifndef TOKENAUTH_CORE_PAGE_TOKEN_H_
#define TOKENAUTH_CORE_PAGE_TOKEN_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tokenauth {

struct PageCursor {
  int64_t before_row = 0;  // Continue with rows below this one.
};

std::string EncodePageToken(int64_t before_row, absl::string_view listing);
// INVALID_ARGUMENT ("page_token: ...") for anything Encode did not make for
// this `listing`.
absl::StatusOr<PageCursor> DecodePageToken(absl::string_view token,
                                           absl::string_view listing);

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_PAGE_TOKEN_H_
