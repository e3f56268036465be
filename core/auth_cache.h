// AuthCache: a bounded in-memory cache of credentials that resolved, so that
// a repeated Authenticate costs neither a database read nor (for Basic) a
// password hash.
//
// What it promises:
//  - An entry is used for at most `max_age` (REVOCATION_PROPAGATION_BOUND)
//    after the store read that produced it began, and never past the
//    credential's own expiry. A revocation made through another replica is
//    therefore seen here within that bound; one made through this process is
//    seen at once (InvalidateUser, below).
//  - Keys are a keyed BLAKE2b hash of the credential (the key is random per
//    process and never leaves it); no credential, password or session ID is
//    stored. Only successful resolutions are cached.
//  - Size is bounded by entries and by bytes; when either bound is reached the
//    oldest entries of a shard go first. Bytes are estimated from the sizes
//    of the structures and of every heap-allocated string, map slot and list
//    node, so that they track the process's real memory (checked by
//    tools/bench --memory, docs/PERFORMANCE.md).
//
// Invalidation without races: a caller takes a Ticket() *before* it reads
// the store, and passes it to Insert(). InvalidateUser(u), called after a
// change to u's credentials committed, makes every entry of u whose ticket is
// older unusable, including one that a read still in flight inserts later.
//
// Thread-safe. Lookups take a shard's reader lock; nothing is allocated on a
// hit.
#ifndef TOKENAUTH_CORE_AUTH_CACHE_H_
#define TOKENAUTH_CORE_AUTH_CACHE_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/types.h"

namespace tokenauth {

struct AuthCacheOptions {
  // AUTH_CACHE_MAX_ENTRIES; 0 turns the cache off.
  size_t max_entries = 100000;
  // AUTH_CACHE_MAX_BYTES: the estimated memory of all entries.
  size_t max_bytes = size_t{64} << 20;
  // REVOCATION_PROPAGATION_BOUND: the oldest answer ever used.
  absl::Duration max_age = absl::Seconds(1);
  // Refresh ahead: a hit in the last quarter of an entry's life asks its
  // caller (one caller per entry) to re-read it in the background, so that a
  // credential in steady use never waits for the store. Threads doing that
  // in the Authenticator, each re-reading the tokens due together (up to 64,
  // gathered for at most min(20 ms, max_age / 16)) in one store call; 0 = no
  // refresh ahead (entries just expire).
  int refresh_threads = 2;
};

struct AuthCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t insertions = 0;
  uint64_t evictions = 0;      // Removed to stay within a bound.
  uint64_t invalidations = 0;  // InvalidateUser calls.
  size_t entries = 0;
  size_t bytes = 0;
};

class AuthCache {
 public:
  // A keyed hash of a credential; see KeyOf*.
  using Key = std::array<unsigned char, 32>;

  explicit AuthCache(AuthCacheOptions options);
  AuthCache(const AuthCache&) = delete;
  AuthCache& operator=(const AuthCache&) = delete;

  bool enabled() const { return options_.max_entries > 0; }
  const AuthCacheOptions& options() const { return options_; }

  // Keys for each kind of credential (distinct domains, so a token value and
  // a session ID that happen to be equal do not share an entry).
  Key KeyOfToken(absl::string_view value) const;
  Key KeyOfBasic(absl::string_view username, absl::string_view password) const;
  Key KeyOfSession(absl::string_view session_id) const;

  // Take one before reading the store; pass it to Insert.
  uint64_t Ticket() const;

  // The cached resolution of `key`, if one is usable at `now`. When
  // `refresh` is not null and the entry is in the last quarter of its life,
  // sets *refresh to true for exactly one caller, who should re-read the
  // credential and Insert (or Erase) it.
  std::optional<AuthResult> Lookup(const Key& key, absl::Time now,
                                   bool* refresh = nullptr);

  // Drops `key`'s entry, if any (a refresh found the credential refused).
  void Erase(const Key& key);

  // Caches `result` (whose principal names the user it belongs to), read
  // from the store starting at `read_start` under `ticket`, until
  // min(read_start + max_age, expires) — `expires` being when the credential
  // stops working on its own (token expiry, session timeouts).
  void Insert(const Key& key, const AuthResult& result, uint64_t ticket,
              absl::Time read_start, absl::Time expires);

  // Every entry of `user_id` cached before this call is unusable from now on.
  // Call after a change to the user's credentials has committed.
  void InvalidateUser(int64_t user_id);

  AuthCacheStats Stats() const;

 private:
  static constexpr int kShards = 16;
  static constexpr int kStripes = 1024;

  struct Entry {
    AuthResult result;
    uint64_t ticket = 0;
    absl::Time valid_until;
    absl::Time refresh_from;                      // valid_until - max_age / 4.
    mutable std::atomic<bool> refreshing{false};  // Asked a caller to refresh.
    size_t bytes = 0;
    std::list<Key>::iterator age;  // Position in Shard::oldest_first.
  };
  struct KeyHash {
    size_t operator()(const Key& key) const;
  };
  struct Shard {
    mutable absl::Mutex mu;
    // Entries on the heap: the map's slots (of which up to half are empty
    // after it grows) stay small.
    absl::flat_hash_map<Key, std::unique_ptr<Entry>, KeyHash> entries
        ABSL_GUARDED_BY(mu);
    std::list<Key> oldest_first ABSL_GUARDED_BY(mu);
    size_t bytes ABSL_GUARDED_BY(mu) = 0;
  };

  Key KeyOf(char domain, absl::string_view a, absl::string_view b) const;
  Shard& ShardOf(const Key& key) { return shards_[key[0] % kShards]; }
  std::atomic<uint64_t>& StripeOf(int64_t user_id) const;
  static void EraseLocked(Shard& shard, Entry& entry, const Key& key)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);

  const AuthCacheOptions options_;
  unsigned char hash_key_[32];
  // The ticket counter; every invalidation moves it forward.
  mutable std::atomic<uint64_t> clock_{1};
  // Per stripe of users: the ticket of the last invalidation. An entry is
  // usable while its ticket is at least its user's stripe.
  mutable std::array<std::atomic<uint64_t>, kStripes> invalidated_{};
  std::array<Shard, kShards> shards_;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
  std::atomic<uint64_t> insertions_{0};
  std::atomic<uint64_t> evictions_{0};
  std::atomic<uint64_t> invalidations_{0};
};

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_AUTH_CACHE_H_
