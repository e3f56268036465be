// Validator (client/validator.h) against an in-process fake tokenauth: the
// local format check, retries on UNAVAILABLE only, the deadline, and the
// optional positive cache.
#include <algorithm>
#include <string>

#include "client/internal/fingerprint.h"
#include "gtest/gtest.h"
#include "tests/client_fake_tokenauth.h"
#include "tokenauth/client/token_check.h"
#include "tokenauth/client/validator.h"

namespace tokenauth::client {
namespace {

using testing::FakeClientClock;
using testing::FakeTokenauth;

class ValidatorTest : public ::testing::Test {
 protected:
  ValidatorOptions Options() {
    ValidatorOptions options;
    options.clock = &clock_;
    return options;
  }

  FakeTokenauth fake_;
  FakeClientClock clock_;
};

TEST_F(ValidatorTest, AuthenticatesAWellFormedToken) {
  const std::string token = fake_.AddToken(7, "alice");
  Validator validator(fake_.NewChannel(), Options());
  absl::StatusOr<v1::AuthenticateResponse> who =
      validator.AuthenticateToken(token, v1::OPERATION_READ, {"repo:read"});
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->principal().username(), "alice");
  EXPECT_EQ(who->principal().user_id(), 7);
  EXPECT_EQ(fake_.last_request().token(), token);
  EXPECT_EQ(fake_.last_request().operation(), v1::OPERATION_READ);
  ASSERT_EQ(fake_.last_request().required_scopes_size(), 1);
  EXPECT_EQ(fake_.last_request().required_scopes(0), "repo:read");
}

TEST_F(ValidatorTest, PassesTokenauthsRefusalThrough) {
  const std::string token = fake_.AddToken(7, "alice", /*read_only=*/true);
  Validator validator(fake_.NewChannel(), Options());
  absl::StatusOr<v1::AuthenticateResponse> who =
      validator.AuthenticateToken(token, v1::OPERATION_WRITE);
  EXPECT_EQ(who.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(who.status().message(), "fake: read-only token");
}

TEST_F(ValidatorTest, RefusesMalformedTokensWithoutAnRpc) {
  const std::string good = fake_.AddToken(7, "alice");
  std::string bad_checksum = good;
  bad_checksum.back() = bad_checksum.back() == 'A' ? 'B' : 'A';
  std::string bad_alphabet = good;
  bad_alphabet[10] = '-';
  const std::string cases[] = {
      "",
      "tka_",
      good.substr(0, good.size() - 1),  // Too short.
      good + "x",                       // Too long.
      "tkb" + good.substr(3),           // Wrong prefix.
      "tka-" + good.substr(4),          // No underscore.
      bad_alphabet,                     // Outside [0-9A-Za-z].
      bad_checksum,                     // CRC32 does not match.
      "Bearer " + good,
  };
  Validator validator(fake_.NewChannel(), Options());
  for (const std::string& value : cases) {
    absl::StatusOr<v1::AuthenticateResponse> who =
        validator.AuthenticateToken(value, v1::OPERATION_READ);
    EXPECT_EQ(who.status().code(), absl::StatusCode::kUnauthenticated) << value;
    if (value.size() > 8) {
      EXPECT_EQ(who.status().message().find(value.substr(4)),
                absl::string_view::npos)
          << "the message must not echo the value: " << who.status();
    }
  }
  EXPECT_EQ(fake_.calls(), 0);
  EXPECT_EQ(validator.stats().rpcs, 0u);
  EXPECT_EQ(validator.stats().local_rejections, std::size(cases));
}

TEST_F(ValidatorTest, RefusesARequestWithoutCredential) {
  Validator validator(fake_.NewChannel(), Options());
  v1::AuthenticateRequest request;
  request.set_operation(v1::OPERATION_READ);
  EXPECT_EQ(validator.Authenticate(request).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(fake_.calls(), 0);
}

TEST_F(ValidatorTest, TokenCheckMatchesTheServersFormat) {
  SodiumRandom random;
  for (const char* prefix : {"tka", "x", "acme2024"}) {
    TokenFormat format(prefix);
    for (int i = 0; i < 200; ++i) {
      TokenFormat::NewToken t = format.Generate(random);
      ASSERT_TRUE(CheckTokenFormat(t.value, prefix).ok()) << t.value;
      absl::StatusOr<std::string> id = TokenIdOf(t.value, prefix);
      ASSERT_TRUE(id.ok());
      EXPECT_EQ(*id, t.public_id);
      // Any one changed character of the body fails.
      std::string changed = t.value;
      const size_t at = changed.size() - 1 - static_cast<size_t>(i % 40);
      changed[at] = changed[at] == 'z' ? 'y' : 'z';
      EXPECT_FALSE(CheckTokenFormat(changed, prefix).ok()) << changed;
    }
  }
  EXPECT_EQ(CheckTokenFormat("tka_x", "TKA").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ValidatorTest, RetriesUnavailableWithJitteredExponentialBackoff) {
  const std::string token = fake_.AddToken(7, "alice");
  fake_.FailNext(2, grpc::Status(grpc::StatusCode::UNAVAILABLE, "db down"));
  ValidatorOptions options = Options();
  options.max_attempts = 3;
  options.initial_backoff = absl::Milliseconds(100);
  options.backoff_multiplier = 2;
  options.jitter = 0.2;
  Validator validator(fake_.NewChannel(), options);
  absl::StatusOr<v1::AuthenticateResponse> who =
      validator.AuthenticateToken(token, v1::OPERATION_READ);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(fake_.calls(), 3);
  EXPECT_EQ(validator.stats().retries, 2u);
  const std::vector<absl::Duration> sleeps = clock_.sleeps();
  ASSERT_EQ(sleeps.size(), 2u);
  EXPECT_GE(sleeps[0], absl::Milliseconds(80));
  EXPECT_LE(sleeps[0], absl::Milliseconds(120));
  EXPECT_GE(sleeps[1], absl::Milliseconds(160));
  EXPECT_LE(sleeps[1], absl::Milliseconds(240));
}

TEST_F(ValidatorTest, JitterSpreadsTheWaits) {
  const std::string token = fake_.AddToken(7, "alice");
  ValidatorOptions options = Options();
  options.max_attempts = 2;
  options.jitter = 0.5;
  options.timeout = absl::Hours(1);
  Validator validator(fake_.NewChannel(), options);
  for (int i = 0; i < 10; ++i) {
    fake_.FailNext(1, grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"));
    ASSERT_TRUE(validator.AuthenticateToken(token, v1::OPERATION_READ).ok());
  }
  std::vector<absl::Duration> sleeps = clock_.sleeps();
  ASSERT_EQ(sleeps.size(), 10u);
  std::sort(sleeps.begin(), sleeps.end());
  EXPECT_LT(sleeps.front(), sleeps.back());
}

TEST_F(ValidatorTest, GivesUpAfterMaxAttempts) {
  const std::string token = fake_.AddToken(7, "alice");
  fake_.FailNext(100, grpc::Status(grpc::StatusCode::UNAVAILABLE, "db down"));
  ValidatorOptions options = Options();
  options.max_attempts = 4;
  options.timeout = absl::Hours(1);
  Validator validator(fake_.NewChannel(), options);
  absl::StatusOr<v1::AuthenticateResponse> who =
      validator.AuthenticateToken(token, v1::OPERATION_READ);
  EXPECT_EQ(who.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(who.status().message(), "db down");
  EXPECT_EQ(fake_.calls(), 4);
  EXPECT_EQ(clock_.sleeps().size(), 3u);
}

TEST_F(ValidatorTest, RetriesNothingButUnavailable) {
  const std::string token = fake_.AddToken(7, "alice");
  for (grpc::StatusCode code :
       {grpc::StatusCode::UNAUTHENTICATED, grpc::StatusCode::PERMISSION_DENIED,
        grpc::StatusCode::INVALID_ARGUMENT, grpc::StatusCode::INTERNAL,
        grpc::StatusCode::DEADLINE_EXCEEDED, grpc::StatusCode::ABORTED}) {
    FakeTokenauth fake;
    const std::string t = fake.AddToken(7, "alice");
    fake.FailNext(1, grpc::Status(code, "no"));
    Validator validator(fake.NewChannel(), Options());
    absl::StatusOr<v1::AuthenticateResponse> who =
        validator.AuthenticateToken(t, v1::OPERATION_READ);
    EXPECT_EQ(static_cast<int>(who.status().code()), static_cast<int>(code));
    EXPECT_EQ(fake.calls(), 1) << code;
  }
  EXPECT_TRUE(clock_.sleeps().empty());
}

TEST_F(ValidatorTest, DoesNotStartAWaitThatEndsPastTheDeadline) {
  const std::string token = fake_.AddToken(7, "alice");
  fake_.FailNext(100, grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"));
  ValidatorOptions options = Options();
  options.timeout = absl::Milliseconds(250);
  options.max_attempts = 10;
  options.initial_backoff = absl::Milliseconds(100);
  options.jitter = 0;
  Validator validator(fake_.NewChannel(), options);
  absl::StatusOr<v1::AuthenticateResponse> who =
      validator.AuthenticateToken(token, v1::OPERATION_READ);
  EXPECT_EQ(who.status().code(), absl::StatusCode::kUnavailable);
  // Waits of 100 ms, then 200 ms would end at 300 ms > 250 ms.
  EXPECT_EQ(clock_.sleeps().size(), 1u);
  EXPECT_EQ(fake_.calls(), 2);
}

TEST_F(ValidatorTest, SendsTheRemainingBudgetAsTheRpcDeadline) {
  const std::string token = fake_.AddToken(7, "alice");
  ValidatorOptions options = Options();
  options.timeout = absl::Seconds(3);
  Validator validator(fake_.NewChannel(), options);
  ASSERT_TRUE(validator.AuthenticateToken(token, v1::OPERATION_READ).ok());
  EXPECT_GT(fake_.last_deadline_left(), absl::Seconds(2));
  EXPECT_LE(fake_.last_deadline_left(), absl::Seconds(3) + absl::Seconds(1));
}

TEST_F(ValidatorTest, ASlowServerEndsInDeadlineExceeded) {
  const std::string token = fake_.AddToken(7, "alice");
  fake_.SetDelay(absl::Milliseconds(600));
  ValidatorOptions options;  // Real clock.
  options.timeout = absl::Milliseconds(200);
  Validator validator(fake_.NewChannel(), options);
  const absl::Time start = absl::Now();
  absl::StatusOr<v1::AuthenticateResponse> who =
      validator.AuthenticateToken(token, v1::OPERATION_READ);
  EXPECT_EQ(who.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
  fake_.SetDelay(absl::ZeroDuration());
}

TEST_F(ValidatorTest, UnreachableServerIsUnavailableAfterTheRetries) {
  ValidatorOptions options;  // Real clock and waits (about 150 ms).
  options.timeout = absl::Seconds(5);
  FakeTokenauth gone;
  const std::string token = gone.AddToken(1, "x");
  const std::string address = gone.address();
  gone.Shutdown();
  Validator validator(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()),
      options);
  absl::StatusOr<v1::AuthenticateResponse> who =
      validator.AuthenticateToken(token, v1::OPERATION_READ);
  EXPECT_EQ(who.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(validator.stats().rpcs, 3u);
}

TEST_F(ValidatorTest, CacheIsOffByDefault) {
  const std::string token = fake_.AddToken(7, "alice");
  Validator validator(fake_.NewChannel(), Options());
  ASSERT_TRUE(validator.AuthenticateToken(token, v1::OPERATION_READ).ok());
  ASSERT_TRUE(validator.AuthenticateToken(token, v1::OPERATION_READ).ok());
  EXPECT_EQ(fake_.calls(), 2);
  EXPECT_EQ(validator.stats().cache_hits, 0u);
}

TEST_F(ValidatorTest, CacheReusesOkAnswersForTheirTtlOnly) {
  const std::string token = fake_.AddToken(7, "alice");
  ValidatorOptions options = Options();
  options.cache_ttl = absl::Seconds(30);
  Validator validator(fake_.NewChannel(), options);
  ASSERT_TRUE(validator.AuthenticateToken(token, v1::OPERATION_READ).ok());
  absl::StatusOr<v1::AuthenticateResponse> again =
      validator.AuthenticateToken(token, v1::OPERATION_READ);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->principal().username(), "alice");
  EXPECT_EQ(fake_.calls(), 1);
  EXPECT_EQ(validator.stats().cache_hits, 1u);

  // Another operation or other scopes are another question.
  ASSERT_TRUE(validator.AuthenticateToken(token, v1::OPERATION_WRITE).ok());
  ASSERT_TRUE(
      validator.AuthenticateToken(token, v1::OPERATION_READ, {"a"}).ok());
  EXPECT_EQ(fake_.calls(), 3);

  clock_.Advance(absl::Seconds(31));
  ASSERT_TRUE(validator.AuthenticateToken(token, v1::OPERATION_READ).ok());
  EXPECT_EQ(fake_.calls(), 4);
}

TEST_F(ValidatorTest, CacheNeverOutlivesTheToken) {
  const std::string token =
      fake_.AddToken(7, "alice", false, false, clock_.Now() + absl::Seconds(5));
  ValidatorOptions options = Options();
  options.cache_ttl = absl::Minutes(5);
  Validator validator(fake_.NewChannel(), options);
  ASSERT_TRUE(validator.AuthenticateToken(token, v1::OPERATION_READ).ok());
  clock_.Advance(absl::Seconds(4));
  ASSERT_TRUE(validator.AuthenticateToken(token, v1::OPERATION_READ).ok());
  EXPECT_EQ(fake_.calls(), 1);
  clock_.Advance(absl::Seconds(2));
  validator.AuthenticateToken(token, v1::OPERATION_READ).IgnoreError();
  EXPECT_EQ(fake_.calls(), 2);
}

TEST_F(ValidatorTest, CacheKeepsNoRefusals) {
  const std::string token = fake_.AddToken(7, "alice", /*read_only=*/true);
  ValidatorOptions options = Options();
  options.cache_ttl = absl::Minutes(1);
  Validator validator(fake_.NewChannel(), options);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(
        validator.AuthenticateToken(token, v1::OPERATION_WRITE).status().code(),
        absl::StatusCode::kPermissionDenied);
  }
  EXPECT_EQ(fake_.calls(), 3);
}

TEST_F(ValidatorTest, CacheHoldsAtMostMaxEntries) {
  const std::string a = fake_.AddToken(1, "a");
  const std::string b = fake_.AddToken(2, "b");
  const std::string c = fake_.AddToken(3, "c");
  ValidatorOptions options = Options();
  options.cache_ttl = absl::Minutes(1);
  options.cache_max_entries = 2;
  Validator validator(fake_.NewChannel(), options);
  for (const std::string& t : {a, b, c}) {
    ASSERT_TRUE(validator.AuthenticateToken(t, v1::OPERATION_READ).ok());
  }
  EXPECT_EQ(fake_.calls(), 3);
  ASSERT_TRUE(validator.AuthenticateToken(c, v1::OPERATION_READ).ok());
  ASSERT_TRUE(validator.AuthenticateToken(b, v1::OPERATION_READ).ok());
  EXPECT_EQ(fake_.calls(), 3);
  ASSERT_TRUE(validator.AuthenticateToken(a, v1::OPERATION_READ).ok());
  EXPECT_EQ(fake_.calls(), 4);  // The oldest went first.
}

TEST(FingerprintTest, IsAKeyedHashNotTheCredential) {
  v1::AuthenticateRequest a;
  a.set_token("tka_secretsecretsecret");
  a.set_operation(v1::OPERATION_READ);
  v1::AuthenticateRequest b = a;
  b.set_operation(v1::OPERATION_WRITE);
  const std::string fa = internal::Fingerprint(a, true);
  EXPECT_EQ(fa.size(), 32u);
  EXPECT_EQ(fa.find("secret"), std::string::npos);
  EXPECT_EQ(fa, internal::Fingerprint(a, true));
  EXPECT_NE(fa, internal::Fingerprint(b, true));
  EXPECT_EQ(internal::Fingerprint(a, false), internal::Fingerprint(b, false));
  // Field boundaries count: "ab"+"c" is not "a"+"bc".
  v1::AuthenticateRequest c, d;
  c.mutable_basic()->set_username("ab");
  c.mutable_basic()->set_password("c");
  d.mutable_basic()->set_username("a");
  d.mutable_basic()->set_password("bc");
  EXPECT_NE(internal::Fingerprint(c, false), internal::Fingerprint(d, false));
}

}  // namespace
}  // namespace tokenauth::client
