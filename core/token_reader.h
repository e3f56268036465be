// TokenReader: the store read behind every Authenticate with a token that the
// cache does not answer (a miss, or skip_cache), shared by concurrent callers.
//
// At most `max_reads` reads are in flight. A caller who finds one free reads
// at once, alone; one who finds them all busy waits, and when a read ends the
// first waiter to go takes every token then waiting (up to 64) into one
// Store::GetTokensAndOwners call. So a lone call costs what it always did,
// and under load the database answers a batch per round trip instead of one
// token per round trip (group commit, for reads).
//
// Freshness is the same as reading alone: a caller's token is read by a
// query that starts after the caller arrived, so a revocation committed
// before the call is always seen (what skip_cache promises).
//
// A waiter that has waited `stall_wait` starts a read anyway, beyond
// `max_reads`: when the reads in flight are stuck (a dead connection waits
// out its I/O timeout) the others still reach the store, whose pool fails
// them fast if the database is marked down. A waiter gives up at its call's
// deadline (core/call_deadline.h) with UNAVAILABLE, unless its read has
// already started; a read's error is every one of its callers' error.
// Thread-safe.
//
//   TokenReader reader(store, /*max_reads=*/2, absl::Milliseconds(20));
//   absl::StatusOr<std::pair<TokenRecord, User>> found = reader.Read(id);
#ifndef TOKENAUTH_CORE_TOKEN_READER_H_
#define TOKENAUTH_CORE_TOKEN_READER_H_

#include <cstddef>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/store.h"
#include "core/types.h"

namespace tokenauth {

// For each of `ids`, in order: its row among `rows` (what
// Store::GetTokensAndOwners gave for them), or NOT_FOUND as
// Store::GetTokenAndOwner would say.
std::vector<absl::StatusOr<std::pair<TokenRecord, User>>> MatchTokenRows(
    absl::Span<const std::string> ids,
    const std::vector<std::pair<TokenRecord, User>>& rows);

class TokenReader {
 public:
  // Tokens per batched read at most.
  static constexpr size_t kMaxBatch = 64;

  // `store` must outlive this; `max_reads` >= 1.
  TokenReader(Store* store, int max_reads, absl::Duration stall_wait);

  TokenReader(const TokenReader&) = delete;
  TokenReader& operator=(const TokenReader&) = delete;

  // What Store::GetTokenAndOwner(public_id) gives: NOT_FOUND if the token
  // or its owner is absent.
  absl::StatusOr<std::pair<TokenRecord, User>> Read(
      const std::string& public_id);

  // Callers waiting for a read to start (for tests).
  size_t waiting() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Request;

  // Takes up to kMaxBatch waiting requests, reads them without the lock and
  // answers each.
  void ReadBatch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool CanStartLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return reads_ < max_reads_ && !waiting_.empty();
  }

  Store* const store_;
  const int max_reads_;
  const absl::Duration stall_wait_;
  mutable absl::Mutex mu_;
  std::deque<Request*> waiting_ ABSL_GUARDED_BY(mu_);  // Oldest first.
  int reads_ ABSL_GUARDED_BY(mu_) = 0;                 // In flight.
};

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_TOKEN_READER_H_
