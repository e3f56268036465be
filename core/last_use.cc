#include "core/last_use.h"

#include <vector>

namespace tokenauth {

LastUseRecorder::LastUseRecorder(Store* store, absl::Duration min_interval,
                                 int max_peers, size_t max_pending)
    : store_(store),
      min_interval_(min_interval),
      max_peers_(max_peers),
      max_pending_(max_pending) {}

LastUseRecorder::~LastUseRecorder() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
  (void)Flush();
}

void LastUseRecorder::Used(const TokenRecord& token, absl::string_view peer,
                           absl::Time now) {
  if (token.last_used_time.has_value() &&
      now - *token.last_used_time < min_interval_) {
    return;  // Stored recently enough.
  }
  absl::MutexLock lock(&mu_);
  if (now > latest_) latest_ = now;
  auto it = last_queued_.find(token.public_id);
  if (it != last_queued_.end() && now - it->second < min_interval_) return;
  // The throttling state is bounded too (one entry per token used within
  // the interval): beyond it a use is dropped and counted, like a full
  // queue, and the token's next use after the flush prunes it is recorded.
  if (it == last_queued_.end() && last_queued_.size() >= max_pending_) {
    ++dropped_;
    return;
  }
  if (pending_.size() >= max_pending_ && !pending_.count(token.public_id)) {
    ++dropped_;
    return;
  }
  last_queued_[token.public_id] = now;
  pending_[token.public_id] = TokenUse{token.public_id, now, std::string(peer)};
}

absl::Status LastUseRecorder::Flush() {
  std::vector<TokenUse> batch;
  {
    absl::MutexLock lock(&mu_);
    batch.reserve(pending_.size());
    for (auto& [id, use] : pending_) batch.push_back(std::move(use));
    pending_.clear();
    // Forget throttling state that can no longer suppress anything.
    const absl::Time horizon = latest_ - min_interval_;
    for (auto it = last_queued_.begin(); it != last_queued_.end();) {
      if (it->second <= horizon) {
        last_queued_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  if (batch.empty()) return absl::OkStatus();
  absl::Status s = store_->RecordTokenUses(batch, max_peers_);
  if (!s.ok()) {
    absl::MutexLock lock(&mu_);
    for (TokenUse& use : batch) {
      if (pending_.size() >= max_pending_) {
        ++dropped_;
        continue;
      }
      pending_.emplace(use.public_id, std::move(use));  // Newer one wins.
    }
  }
  return s;
}

void LastUseRecorder::StartBackground(absl::Duration every) {
  thread_ = std::thread([this, every] {
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        mu_.AwaitWithTimeout(absl::Condition(&stop_), every);
        if (stop_) return;
      }
      (void)Flush();
    }
  });
}

size_t LastUseRecorder::pending() const {
  absl::MutexLock lock(&mu_);
  return pending_.size();
}

size_t LastUseRecorder::dropped() const {
  absl::MutexLock lock(&mu_);
  return dropped_;
}

}  // namespace tokenauth
