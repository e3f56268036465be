// Internal to the client library (not installed). ExpiringMap: a map from
// string keys to values that each expire at a given time, holding at most
// `max_entries` of them (the oldest insertions go first). Backs the
// Validator's positive cache and the principal registry. Keys are
// fingerprints (client/internal/fingerprint.h), never credentials.
//
// Thread-safe: every method takes the map's mutex. Header-only.
#ifndef TOKENAUTH_CLIENT_INTERNAL_EXPIRING_MAP_H_
#define TOKENAUTH_CLIENT_INTERNAL_EXPIRING_MAP_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace tokenauth::client::internal {

template <typename V>
class ExpiringMap {
 public:
  // max_entries 0: Put does nothing.
  explicit ExpiringMap(size_t max_entries) : max_entries_(max_entries) {}

  ExpiringMap(const ExpiringMap&) = delete;
  ExpiringMap& operator=(const ExpiringMap&) = delete;

  // Stores `value` under `key` until `expires` (replacing an older entry),
  // then drops the oldest entries beyond max_entries.
  void Put(const std::string& key, V value, absl::Time expires) {
    if (max_entries_ == 0) return;
    absl::MutexLock lock(&mu_);
    const uint64_t seq = next_seq_++;
    map_.insert_or_assign(key, Entry{std::move(value), expires, seq});
    order_.emplace_back(key, seq);
    // order_ also holds superseded (key, seq) pairs; bound it too.
    while (map_.size() > max_entries_ || order_.size() > 2 * max_entries_) {
      auto& [old_key, old_seq] = order_.front();
      auto it = map_.find(old_key);
      if (it != map_.end() && it->second.seq == old_seq) map_.erase(it);
      order_.pop_front();
    }
  }

  // The value under `key` unless it has expired at `now` (then it is
  // dropped).
  std::optional<V> Get(const std::string& key, absl::Time now) {
    absl::MutexLock lock(&mu_);
    auto it = map_.find(key);
    if (it == map_.end()) return std::nullopt;
    if (now >= it->second.expires) {
      map_.erase(it);
      return std::nullopt;
    }
    return it->second.value;
  }

  size_t size() const {
    absl::MutexLock lock(&mu_);
    return map_.size();
  }

 private:
  struct Entry {
    V value;
    absl::Time expires;
    uint64_t seq;
  };

  const size_t max_entries_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> map_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<std::string, uint64_t>> order_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tokenauth::client::internal

#endif  // TOKENAUTH_CLIENT_INTERNAL_EXPIRING_MAP_H_
