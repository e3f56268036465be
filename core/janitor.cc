#include "core/janitor.h"

#include "core/status_macros.h"

namespace tokenauth {

Janitor::Janitor(Store* store, Clock* clock, TokenPolicy policy, int batch_size,
                 int max_batches)
    : store_(store),
      clock_(clock),
      policy_(std::move(policy)),
      batch_size_(batch_size),
      max_batches_(max_batches) {}

JanitorCutoffs Janitor::CutoffsAt(absl::Time now) const {
  const absl::Time before = now - policy_.unusable_ttl;
  // Stale at T means unused since T - stale_period; unusable for the TTL
  // means that was already so at now - ttl.
  return JanitorCutoffs{before, before, before - policy_.stale_period};
}

absl::StatusOr<Janitor::Result> Janitor::RunOnce() {
  Result result;
  const absl::Time now = clock_->Now();
  const JanitorCutoffs cutoffs = CutoffsAt(now);
  while (result.batches < max_batches_) {
    ASSIGN_OR_RETURN(std::vector<TokenRecord> deleted,
                     store_->DeleteUnusableTokens(cutoffs, batch_size_, now));
    ++result.batches;
    result.deleted_tokens += static_cast<int>(deleted.size());
    if (static_cast<int>(deleted.size()) < batch_size_) break;
  }
  for (int i = 0; i < max_batches_; ++i) {
    ASSIGN_OR_RETURN(int keys, store_->DeleteIdempotencyKeys(
                                   now - kIdempotencyWindow, batch_size_));
    result.deleted_keys += keys;
    if (keys < batch_size_) break;
  }
  return result;
}

}  // namespace tokenauth
