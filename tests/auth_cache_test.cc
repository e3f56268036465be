// AuthCache on its own: bounds in time and size, invalidation, and the race
// between a store read in flight and an invalidation.
#include "core/auth_cache.h"

#include "gtest/gtest.h"

namespace tokenauth {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

AuthCacheOptions Options(size_t max_entries = 100000,
                         size_t max_bytes = size_t{64} << 20,
                         absl::Duration max_age = absl::Seconds(1)) {
  AuthCacheOptions o;
  o.max_entries = max_entries;
  o.max_bytes = max_bytes;
  o.max_age = max_age;
  return o;
}

AuthResult ResultFor(int64_t user_id, const std::string& name = "alice") {
  AuthResult r;
  r.principal = {user_id, name, false};
  r.kind = CredentialKind::kBasic;
  return r;
}

TEST(AuthCacheTest, HitUntilMaxAgeAfterTheReadBegan) {
  AuthCache cache(Options(100));
  const AuthCache::Key key = cache.KeyOfToken("tka_value");
  EXPECT_FALSE(cache.Lookup(key, kT0).has_value());
  cache.Insert(key, ResultFor(7), cache.Ticket(), kT0, absl::InfiniteFuture());
  std::optional<AuthResult> hit =
      cache.Lookup(key, kT0 + absl::Milliseconds(999));
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->principal.user_id, 7);
  EXPECT_FALSE(cache.Lookup(key, kT0 + absl::Seconds(1)).has_value());
  AuthCacheStats s = cache.Stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.entries, 1u);
}

TEST(AuthCacheTest, NeverPastTheCredentialsOwnExpiry) {
  AuthCache cache(Options(100, size_t{64} << 20, absl::Seconds(10)));
  const AuthCache::Key key = cache.KeyOfToken("v");
  cache.Insert(key, ResultFor(1), cache.Ticket(), kT0,
               kT0 + absl::Milliseconds(300));
  EXPECT_TRUE(cache.Lookup(key, kT0 + absl::Milliseconds(299)).has_value());
  EXPECT_FALSE(cache.Lookup(key, kT0 + absl::Milliseconds(300)).has_value());
}

TEST(AuthCacheTest, KindsAndPartsDoNotCollide) {
  AuthCache cache(Options());
  EXPECT_NE(cache.KeyOfToken("abc"), cache.KeyOfSession("abc"));
  EXPECT_NE(cache.KeyOfBasic("ab", "c"), cache.KeyOfBasic("a", "bc"));
  EXPECT_EQ(cache.KeyOfBasic("a", "bc"), cache.KeyOfBasic("a", "bc"));
  // Keyed: another process (another key) gives other keys.
  AuthCache other(Options());
  EXPECT_NE(cache.KeyOfToken("abc"), other.KeyOfToken("abc"));
}

TEST(AuthCacheTest, InvalidateUserDropsOnlyThatUser) {
  AuthCache cache(Options());
  const AuthCache::Key a = cache.KeyOfToken("a");
  const AuthCache::Key b = cache.KeyOfToken("b");
  cache.Insert(a, ResultFor(1), cache.Ticket(), kT0, absl::InfiniteFuture());
  cache.Insert(b, ResultFor(2, "bob"), cache.Ticket(), kT0,
               absl::InfiniteFuture());
  cache.InvalidateUser(1);
  EXPECT_FALSE(cache.Lookup(a, kT0).has_value());
  EXPECT_TRUE(cache.Lookup(b, kT0).has_value());
  // An answer read after the invalidation is cached again.
  cache.Insert(a, ResultFor(1), cache.Ticket(), kT0, absl::InfiniteFuture());
  EXPECT_TRUE(cache.Lookup(a, kT0).has_value());
}

TEST(AuthCacheTest, ReadInFlightDuringInvalidationIsNotCached) {
  AuthCache cache(Options());
  const AuthCache::Key key = cache.KeyOfToken("a");
  const uint64_t ticket = cache.Ticket();  // The read begins...
  cache.InvalidateUser(1);                 // ...a revocation commits...
  // ...and the read, which may have seen the old state, finishes.
  cache.Insert(key, ResultFor(1), ticket, kT0, absl::InfiniteFuture());
  EXPECT_FALSE(cache.Lookup(key, kT0).has_value());
}

TEST(AuthCacheTest, EntryBoundHolds) {
  AuthCache cache(Options(160));
  for (int i = 0; i < 5000; ++i) {
    cache.Insert(cache.KeyOfToken(std::to_string(i)), ResultFor(i),
                 cache.Ticket(), kT0, absl::InfiniteFuture());
  }
  AuthCacheStats s = cache.Stats();
  EXPECT_LE(s.entries, 160u);
  EXPECT_GE(s.entries, 100u);  // Shards are not all full, but most are.
  EXPECT_EQ(s.insertions, 5000u);
  EXPECT_EQ(s.evictions, 5000u - s.entries);
  // The newest entry is still there.
  EXPECT_TRUE(cache.Lookup(cache.KeyOfToken("4999"), kT0).has_value());
}

TEST(AuthCacheTest, ByteBoundHolds) {
  AuthCache cache(Options(1000000, 256 * 1024));
  const std::string long_name(2000, 'x');
  for (int i = 0; i < 5000; ++i) {
    cache.Insert(cache.KeyOfToken(std::to_string(i)), ResultFor(i, long_name),
                 cache.Ticket(), kT0, absl::InfiniteFuture());
  }
  AuthCacheStats s = cache.Stats();
  EXPECT_LE(s.bytes, 256u * 1024u);
  EXPECT_GT(s.entries, 0u);
  EXPECT_LT(s.entries, 256u * 1024u / 2000u + 1);
}

TEST(AuthCacheTest, ZeroEntriesMeansOff) {
  AuthCache cache(Options(0));
  EXPECT_FALSE(cache.enabled());
  const AuthCache::Key key = cache.KeyOfToken("a");
  cache.Insert(key, ResultFor(1), cache.Ticket(), kT0, absl::InfiniteFuture());
  EXPECT_FALSE(cache.Lookup(key, kT0).has_value());
  EXPECT_EQ(cache.Stats().entries, 0u);
}

TEST(AuthCacheTest, TheCallersPeerIsNotKept) {
  AuthCache cache(Options());
  const AuthCache::Key key = cache.KeyOfToken("a");
  AuthResult r = ResultFor(1);
  r.peer = "ipv4:10.0.0.1:5000";
  cache.Insert(key, r, cache.Ticket(), kT0, absl::InfiniteFuture());
  EXPECT_EQ(cache.Lookup(key, kT0)->peer, "");
}

TEST(AuthCacheTest, OneCallerIsAskedToRefreshInTheLastQuarter) {
  AuthCache cache(Options());  // max_age 1s: refresh from 750ms.
  const AuthCache::Key key = cache.KeyOfToken("a");
  cache.Insert(key, ResultFor(1), cache.Ticket(), kT0, absl::InfiniteFuture());
  bool refresh = false;
  ASSERT_TRUE(cache.Lookup(key, kT0 + absl::Milliseconds(749), &refresh));
  EXPECT_FALSE(refresh);
  ASSERT_TRUE(cache.Lookup(key, kT0 + absl::Milliseconds(750), &refresh));
  EXPECT_TRUE(refresh);
  refresh = false;
  ASSERT_TRUE(cache.Lookup(key, kT0 + absl::Milliseconds(800), &refresh));
  EXPECT_FALSE(refresh) << "asked twice";
  // The refreshed entry starts a new life, and may be refreshed again.
  cache.Insert(key, ResultFor(1), cache.Ticket(), kT0 + absl::Milliseconds(800),
               absl::InfiniteFuture());
  ASSERT_TRUE(cache.Lookup(key, kT0 + absl::Milliseconds(1549), &refresh));
  EXPECT_FALSE(refresh);
  ASSERT_TRUE(cache.Lookup(key, kT0 + absl::Milliseconds(1550), &refresh));
  EXPECT_TRUE(refresh);
  cache.Erase(key);
  EXPECT_FALSE(cache.Lookup(key, kT0 + absl::Milliseconds(1600)).has_value());
}

}  // namespace
}  // namespace tokenauth
