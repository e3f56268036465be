// Janitor: deletes Personal Access Tokens that have been unusable (revoked,
// expired, or stale) for longer than ACCESS_TOKEN_UNUSABLE_TOKEN_TTL, and
// forgets idempotency keys older than their 24h window. Work is done in
// bounded batches; every deleted token gets a "token.janitor_delete" audit
// event in the same transaction. Usable tokens are never touched. Several
// replicas may run it at once (the store skips rows another one holds).
//
// Does not own the store or clock. Thread-safe.
#ifndef TOKENAUTH_CORE_JANITOR_H_
#define TOKENAUTH_CORE_JANITOR_H_

#include "absl/status/statusor.h"
#include "core/clock.h"
#include "core/policy.h"
#include "core/store.h"

namespace tokenauth {

class Janitor {
 public:
  Janitor(Store* store, Clock* clock, TokenPolicy policy, int batch_size = 500,
          int max_batches = 100);

  struct Result {
    int deleted_tokens = 0;
    int deleted_keys = 0;
    int batches = 0;
  };
  // One pass: batches until one comes back short or max_batches ran.
  absl::StatusOr<Result> RunOnce();

  // The cutoffs RunOnce uses at `now`.
  JanitorCutoffs CutoffsAt(absl::Time now) const;

 private:
  Store* const store_;
  Clock* const clock_;
  const TokenPolicy policy_;
  const int batch_size_;
  const int max_batches_;
};

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_JANITOR_H_
