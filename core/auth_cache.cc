#include "core/auth_cache.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>

#include "absl/base/internal/endian.h"

namespace tokenauth {
namespace {

// malloc's per-allocation header and rounding, roughly.
constexpr size_t kMallocOverhead = 16;

// The heap memory of a string beyond its object (short ones live inline).
size_t HeapOf(const std::string& s) {
  return s.capacity() > 15 ? s.capacity() + 1 + kMallocOverhead : 0;
}

size_t HeapOf(const std::vector<std::string>& v) {
  if (v.empty()) return 0;
  size_t n = v.capacity() * sizeof(std::string) + kMallocOverhead;
  for (const std::string& s : v) n += HeapOf(s);
  return n;
}

// Secret hashes are not needed once a credential resolved; a cached answer
// does not keep them.
void StripForCache(AuthResult& r) {
  r.peer.clear();  // Per call, not per credential.
  r.peer.shrink_to_fit();
  if (r.token.has_value()) {
    r.token->value_hash.clear();
    r.token->value_hash.shrink_to_fit();
  }
  if (r.session.has_value()) {
    r.session->secret_hash.clear();
    r.session->secret_hash.shrink_to_fit();
  }
}

template <typename Entry, typename Key>
size_t BytesOf(const AuthResult& r) {
  // The entry itself, its map slot (counted twice: a flat map runs at most
  // half empty after growing) and its list node.
  size_t n = sizeof(Entry) + kMallocOverhead +
             2 * (sizeof(Key) + sizeof(void*)) +
             (sizeof(Key) + 2 * sizeof(void*) + kMallocOverhead);
  n += HeapOf(r.principal.username);
  if (r.token.has_value()) {
    const TokenRecord& t = *r.token;
    n += HeapOf(t.public_id) + HeapOf(t.name) + HeapOf(t.value_hash) +
         HeapOf(t.hint) + HeapOf(t.family_id) +
         (t.rotated_to ? HeapOf(*t.rotated_to) : 0) +
         HeapOf(t.permissions.scopes) + HeapOf(t.last_used_peers);
  }
  if (r.session.has_value()) {
    const SessionRecord& s = *r.session;
    n += HeapOf(s.handle) + HeapOf(s.secret_hash) + HeapOf(s.csrf_hash) +
         HeapOf(s.user_agent) + HeapOf(s.peer);
  }
  return n;
}

}  // namespace

size_t AuthCache::KeyHash::operator()(const Key& key) const {
  // The key is already a uniformly distributed hash.
  uint64_t h;
  std::memcpy(&h, key.data() + 8, sizeof(h));
  return static_cast<size_t>(h);
}

AuthCache::AuthCache(AuthCacheOptions options) : options_(options) {
  if (sodium_init() < 0) std::abort();
  randombytes_buf(hash_key_, sizeof(hash_key_));
}

AuthCache::Key AuthCache::KeyOf(char domain, absl::string_view a,
                                absl::string_view b) const {
  crypto_generichash_state state;
  crypto_generichash_init(&state, hash_key_, sizeof(hash_key_), 32);
  // Domain and length prefixes: ("ab", "c") and ("a", "bc") differ.
  unsigned char header[1 + 8];
  header[0] = static_cast<unsigned char>(domain);
  absl::little_endian::Store64(header + 1, a.size());
  crypto_generichash_update(&state, header, sizeof(header));
  crypto_generichash_update(
      &state, reinterpret_cast<const unsigned char*>(a.data()), a.size());
  crypto_generichash_update(
      &state, reinterpret_cast<const unsigned char*>(b.data()), b.size());
  Key key;
  crypto_generichash_final(&state, key.data(), key.size());
  return key;
}

AuthCache::Key AuthCache::KeyOfToken(absl::string_view value) const {
  return KeyOf('t', value, "");
}

AuthCache::Key AuthCache::KeyOfBasic(absl::string_view username,
                                     absl::string_view password) const {
  return KeyOf('b', username, password);
}

AuthCache::Key AuthCache::KeyOfSession(absl::string_view session_id) const {
  return KeyOf('s', session_id, "");
}

uint64_t AuthCache::Ticket() const {
  return clock_.load(std::memory_order_acquire);
}

std::atomic<uint64_t>& AuthCache::StripeOf(int64_t user_id) const {
  uint64_t h = static_cast<uint64_t>(user_id) * 0x9E3779B97F4A7C15ull;
  return invalidated_[(h >> 32) % kStripes];
}

std::optional<AuthResult> AuthCache::Lookup(const Key& key, absl::Time now,
                                            bool* refresh) {
  if (!enabled()) return std::nullopt;
  Shard& shard = ShardOf(key);
  {
    absl::ReaderMutexLock lock(&shard.mu);
    auto it = shard.entries.find(key);
    if (it != shard.entries.end()) {
      const Entry& entry = *it->second;
      if (now < entry.valid_until &&
          entry.ticket >= StripeOf(entry.result.principal.user_id)
                              .load(std::memory_order_acquire)) {
        hits_.fetch_add(1, std::memory_order_relaxed);
        if (refresh != nullptr && now >= entry.refresh_from &&
            !entry.refreshing.exchange(true, std::memory_order_acq_rel)) {
          *refresh = true;
        }
        return entry.result;
      }
    }
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  return std::nullopt;
}

void AuthCache::EraseLocked(Shard& shard, Entry& entry, const Key& key) {
  shard.bytes -= entry.bytes;
  shard.oldest_first.erase(entry.age);
  shard.entries.erase(key);
}

void AuthCache::Insert(const Key& key, const AuthResult& result,
                       uint64_t ticket, absl::Time read_start,
                       absl::Time expires) {
  if (!enabled()) return;
  const absl::Time valid_until =
      std::min(read_start + options_.max_age, expires);
  // Already invalidated while the read was in flight: do not cache it.
  if (ticket <
      StripeOf(result.principal.user_id).load(std::memory_order_acquire)) {
    return;
  }
  auto entry = std::make_unique<Entry>();
  entry->result = result;
  StripForCache(entry->result);
  entry->ticket = ticket;
  entry->valid_until = valid_until;
  entry->refresh_from = valid_until - options_.max_age / 4;
  entry->bytes = BytesOf<Entry, Key>(entry->result);
  const size_t bytes = entry->bytes;
  const size_t max_entries =
      std::max<size_t>(1, options_.max_entries / kShards);
  const size_t max_bytes = std::max<size_t>(1, options_.max_bytes / kShards);
  if (bytes > max_bytes) return;
  Shard& shard = ShardOf(key);
  absl::MutexLock lock(&shard.mu);
  if (auto it = shard.entries.find(key); it != shard.entries.end()) {
    EraseLocked(shard, *it->second, key);
  }
  uint64_t evicted = 0;
  while (!shard.entries.empty() && (shard.entries.size() >= max_entries ||
                                    shard.bytes + bytes > max_bytes)) {
    const Key oldest = shard.oldest_first.front();
    EraseLocked(shard, *shard.entries.find(oldest)->second, oldest);
    ++evicted;
  }
  shard.oldest_first.push_back(key);
  entry->age = std::prev(shard.oldest_first.end());
  shard.entries[key] = std::move(entry);
  shard.bytes += bytes;
  insertions_.fetch_add(1, std::memory_order_relaxed);
  if (evicted > 0) evictions_.fetch_add(evicted, std::memory_order_relaxed);
}

void AuthCache::Erase(const Key& key) {
  Shard& shard = ShardOf(key);
  absl::MutexLock lock(&shard.mu);
  if (auto it = shard.entries.find(key); it != shard.entries.end()) {
    EraseLocked(shard, *it->second, key);
  }
}

void AuthCache::InvalidateUser(int64_t user_id) {
  invalidations_.fetch_add(1, std::memory_order_relaxed);
  // A ticket newer than any taken so far; the stripe only moves forward.
  const uint64_t now = clock_.fetch_add(1, std::memory_order_acq_rel) + 1;
  std::atomic<uint64_t>& stripe = StripeOf(user_id);
  uint64_t seen = stripe.load(std::memory_order_acquire);
  while (seen < now &&
         !stripe.compare_exchange_weak(seen, now, std::memory_order_acq_rel)) {
  }
}

AuthCacheStats AuthCache::Stats() const {
  AuthCacheStats stats;
  stats.hits = hits_.load(std::memory_order_relaxed);
  stats.misses = misses_.load(std::memory_order_relaxed);
  stats.insertions = insertions_.load(std::memory_order_relaxed);
  stats.evictions = evictions_.load(std::memory_order_relaxed);
  stats.invalidations = invalidations_.load(std::memory_order_relaxed);
  for (const Shard& shard : shards_) {
    absl::ReaderMutexLock lock(&shard.mu);
    stats.entries += shard.entries.size();
    stats.bytes += shard.bytes;
  }
  return stats;
}

}  // namespace tokenauth
