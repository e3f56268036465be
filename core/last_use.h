// Recording when and from where tokens are used, off the authentication hot
// path. The Authenticator reports each successful token use to a
// TokenUseSink; LastUseRecorder keeps the latest use per token in memory and
// writes batches to the store from a background thread (or on Flush()).
//
// A token's use is queued at most once per `min_interval` (and not at all
// while its stored last_used_time is that recent), so the store sees at
// most one write per token per interval. The queue is bounded: uses beyond
// `max_pending` tokens are dropped and counted, and so is the memory of
// which tokens were queued within the interval (at most `max_pending`
// tokens; beyond it uses are dropped and counted too). Last use is
// informational: a failed write is retried at the next flush, and what is still
// queued when the process dies is lost. Thread-safe.
#ifndef TOKENAUTH_CORE_LAST_USE_H_
#define TOKENAUTH_CORE_LAST_USE_H_

#include <map>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/store.h"
#include "core/types.h"

namespace tokenauth {

class TokenUseSink {
 public:
  virtual ~TokenUseSink() = default;
  // `token` is usable and was just used from `peer` at `now`. Must not block.
  virtual void Used(const TokenRecord& token, absl::string_view peer,
                    absl::Time now) = 0;
};

class LastUseRecorder : public TokenUseSink {
 public:
  // Does not own `store`.
  LastUseRecorder(Store* store, absl::Duration min_interval, int max_peers,
                  size_t max_pending = 100000);
  // Stops the background thread, then flushes once.
  ~LastUseRecorder() override;

  void Used(const TokenRecord& token, absl::string_view peer,
            absl::Time now) override;

  // Writes what is queued. Uses that fail to write are queued again.
  absl::Status Flush();
  // Flushes every `every` on a thread of its own until destruction.
  void StartBackground(absl::Duration every);

  size_t pending() const;
  size_t dropped() const;

 private:
  Store* const store_;
  const absl::Duration min_interval_;
  const int max_peers_;
  const size_t max_pending_;

  mutable absl::Mutex mu_;
  std::map<std::string, TokenUse> pending_ ABSL_GUARDED_BY(mu_);
  // When each token's use was last queued; pruned after min_interval.
  absl::flat_hash_map<std::string, absl::Time> last_queued_
      ABSL_GUARDED_BY(mu_);
  absl::Time latest_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  size_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_LAST_USE_H_
