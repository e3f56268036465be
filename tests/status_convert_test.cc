// Unit tests of the error details: reasons on absl::Status (core/errors.h)
// and their conversion to grpc::Status with a google.rpc.Status in the
// binary error details (server/status_convert.h). The details are decoded
// with the generated google.rpc classes, as a client would.
#include "server/status_convert.h"

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "core/errors.h"
#include "core/status_macros.h"
#include "core/token_format.h"
#include "core/validation.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "core/metadata_credentials.h"

namespace tokenauth {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// What a client finds in the grpc-status-details-bin trailer.
struct Decoded {
  google::rpc::Status status;
  std::vector<google::rpc::ErrorInfo> infos;
  std::vector<google::rpc::BadRequest> bad_requests;
  int unknown = 0;  // Details of any other type.
};

Decoded Decode(const grpc::Status& status) {
  Decoded d;
  EXPECT_TRUE(d.status.ParseFromString(status.error_details()))
      << "error_details is not a google.rpc.Status";
  for (const google::protobuf::Any& any : d.status.details()) {
    google::rpc::ErrorInfo info;
    google::rpc::BadRequest bad_request;
    if (any.Is<google::rpc::ErrorInfo>()) {
      EXPECT_EQ(any.type_url(), "type.googleapis.com/google.rpc.ErrorInfo");
      EXPECT_TRUE(any.UnpackTo(&info));
      d.infos.push_back(info);
    } else if (any.Is<google::rpc::BadRequest>()) {
      EXPECT_EQ(any.type_url(), "type.googleapis.com/google.rpc.BadRequest");
      EXPECT_TRUE(any.UnpackTo(&bad_request));
      d.bad_requests.push_back(bad_request);
    } else {
      ++d.unknown;
    }
  }
  // The details repeat the status exactly.
  EXPECT_EQ(d.status.code(), static_cast<int>(status.error_code()));
  EXPECT_EQ(d.status.message(), status.error_message());
  EXPECT_EQ(d.unknown, 0);
  EXPECT_EQ(d.infos.size(), 1u) << "exactly one ErrorInfo";
  if (d.infos.empty()) d.infos.emplace_back();
  EXPECT_EQ(d.infos[0].domain(), "tokenauth");
  return d;
}

std::map<std::string, std::string> MetadataOf(
    const google::rpc::ErrorInfo& info) {
  return {info.metadata().begin(), info.metadata().end()};
}

std::vector<std::pair<std::string, std::string>> ViolationsOf(
    const Decoded& d) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const google::rpc::BadRequest& b : d.bad_requests) {
    for (const auto& v : b.field_violations()) {
      out.emplace_back(v.field(), v.description());
    }
  }
  return out;
}

// --- core/errors.h ----------------------------------------------------------

TEST(ErrorReasonTest, AttachesAndReadsBack) {
  absl::Status s = WithReason(absl::NotFoundError("token abc: not found"),
                              reasons::kTokenNotFound, {{"token_id", "abc"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "token abc: not found");
  EXPECT_EQ(ReasonOf(s), "TOKEN_NOT_FOUND");
  std::optional<ErrorReason> r = ErrorReasonOf(s);
  ASSERT_TRUE(r.has_value());
  EXPECT_THAT(r->metadata, ElementsAre(Pair("token_id", "abc")));
}

TEST(ErrorReasonTest, ValuesWithLineBreaksAndEqualsSignsSurvive) {
  const std::string odd = "a=b\nc\\d\"e\x01";
  absl::Status s = WithReason(absl::InvalidArgumentError("x: y"), "ODD",
                              {{"v", odd}, {"empty", ""}});
  std::optional<ErrorReason> r = ErrorReasonOf(s);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reason, "ODD");
  EXPECT_THAT(r->metadata,
              UnorderedElementsAre(Pair("v", odd), Pair("empty", "")));
}

TEST(ErrorReasonTest, NoneByDefaultAndNotOnOk) {
  EXPECT_EQ(ReasonOf(absl::NotFoundError("x")), "");
  EXPECT_FALSE(ErrorReasonOf(absl::NotFoundError("x")).has_value());
  EXPECT_TRUE(WithReason(absl::OkStatus(), "NOPE").ok());
  EXPECT_EQ(ReasonOf(WithReason(absl::OkStatus(), "NOPE")), "");
}

TEST(ErrorReasonTest, TheLastReasonWins) {
  absl::Status s =
      WithReason(absl::UnauthenticatedError("x"), "FIRST", {{"a", "1"}});
  s = WithReason(s, "SECOND");
  std::optional<ErrorReason> r = ErrorReasonOf(s);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reason, "SECOND");
  EXPECT_THAT(r->metadata, IsEmpty());
}

absl::Status Inner() {
  return WithReason(absl::UnauthenticatedError("token: revoked"),
                    reasons::kTokenRevoked);
}
absl::StatusOr<int> Outer() {
  RETURN_IF_ERROR(Inner());
  return 1;
}

TEST(ErrorReasonTest, SurvivesReturnIfErrorAndStatusOr) {
  absl::StatusOr<int> r = Outer();
  EXPECT_EQ(ReasonOf(r.status()), "TOKEN_REVOKED");
}

TEST(ErrorReasonTest, DefaultsComeFromTheCode) {
  EXPECT_EQ(DefaultReason(absl::StatusCode::kInvalidArgument),
            "INVALID_ARGUMENT");
  EXPECT_EQ(DefaultReason(absl::StatusCode::kNotFound), "NOT_FOUND");
  EXPECT_EQ(DefaultReason(absl::StatusCode::kFailedPrecondition),
            "FAILED_PRECONDITION");
  EXPECT_EQ(DefaultReason(absl::StatusCode::kUnavailable),
            "DATABASE_UNAVAILABLE");
}

// --- Reasons at real call sites (no database needed) -------------------------

TEST(ErrorReasonTest, TokenFormatRefusalsAreTokenMalformed) {
  TokenFormat format("tka");
  const std::string value =
      absl::StrCat("tka_", std::string(TokenFormat::kIdLength, 'A'),
                   std::string(TokenFormat::kSecretLength, 'b'));
  const std::string good =
      absl::StrCat(value, Base62Checksum(value, TokenFormat::kChecksumLength));
  ASSERT_TRUE(format.Parse(good).ok());
  std::string typo = good;
  typo[10] = 'B';
  for (const std::string& bad : {typo, std::string("tka_short"),
                                 absl::StrCat("tka_", std::string(40, '*'))}) {
    absl::StatusOr<std::string> parsed = format.Parse(bad);
    EXPECT_TRUE(absl::IsUnauthenticated(parsed.status())) << bad;
    EXPECT_EQ(ReasonOf(parsed.status()), "TOKEN_MALFORMED") << bad;
  }
}

TEST(ErrorReasonTest, MetadataCredentialsAreMissingOrMalformed) {
  absl::StatusOr<Credential> none = CredentialFromMetadata({});
  EXPECT_EQ(ReasonOf(none.status()), "CREDENTIAL_MISSING");
  absl::StatusOr<Credential> scheme =
      CredentialFromMetadata({{"authorization", "Digest abc"}});
  EXPECT_EQ(ReasonOf(scheme.status()), "CREDENTIAL_MALFORMED");
  EXPECT_EQ(ErrorReasonOf(scheme.status())->metadata.at("header"),
            "authorization");
  absl::StatusOr<Credential> twice =
      CredentialFromMetadata({{"x-session-id", "a"}, {"x-session-id", "b"}});
  EXPECT_EQ(ReasonOf(twice.status()), "CREDENTIAL_MALFORMED");
  EXPECT_EQ(ErrorReasonOf(twice.status())->metadata.at("header"),
            "x-session-id");
}

// --- server/status_convert.h ------------------------------------------------

TEST(StatusConvertTest, OkHasNoDetails) {
  grpc::Status s = ToGrpcStatus(absl::OkStatus());
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.error_details(), "");
}

TEST(StatusConvertTest, InvalidArgumentNamesTheFieldTwice) {
  const absl::Status in = ValidateTokenName("name", "");
  ASSERT_EQ(in.message(), "name: required (1..255 bytes of UTF-8)");
  grpc::Status s = ToGrpcStatus(in);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), in.message());
  Decoded d = Decode(s);
  EXPECT_EQ(d.status.details_size(), 2);
  EXPECT_EQ(d.infos[0].reason(), "INVALID_ARGUMENT");
  EXPECT_THAT(MetadataOf(d.infos[0]), ElementsAre(Pair("field", "name")));
  ASSERT_EQ(d.bad_requests.size(), 1u);
  EXPECT_THAT(ViolationsOf(d),
              ElementsAre(Pair("name", "required (1..255 bytes of UTF-8)")));
}

TEST(StatusConvertTest, IndexedAndDottedFields) {
  const absl::Status in = ValidateScopes(
      "token.permissions.scopes", {"ok", "Not-A-Scope"}, /*catalogue=*/{});
  Decoded d = Decode(ToGrpcStatus(in));
  EXPECT_THAT(MetadataOf(d.infos[0]),
              ElementsAre(Pair("field", "token.permissions.scopes[1]")));
  EXPECT_THAT(ViolationsOf(d),
              ElementsAre(Pair("token.permissions.scopes[1]",
                               "must match [a-z0-9][a-z0-9:._-]{0,63}")));
}

TEST(StatusConvertTest, ARuleOverSeveralFieldsViolatesEach) {
  Decoded d = Decode(ToGrpcStatus(
      absl::InvalidArgumentError("user_id, username: give one, not both")));
  EXPECT_THAT(MetadataOf(d.infos[0]),
              ElementsAre(Pair("field", "user_id,username")));
  EXPECT_THAT(ViolationsOf(d),
              ElementsAre(Pair("user_id", "give one, not both"),
                          Pair("username", "give one, not both")));
}

TEST(StatusConvertTest, AMessageWithoutAFieldViolatesTheRequest) {
  const std::string message =
      "InsertToken: a value does not fit its column: MySQL error 1406";
  Decoded d = Decode(ToGrpcStatus(absl::InvalidArgumentError(message)));
  EXPECT_EQ(d.infos[0].reason(), "INVALID_ARGUMENT");
  EXPECT_THAT(MetadataOf(d.infos[0]), IsEmpty());
  EXPECT_THAT(ViolationsOf(d), ElementsAre(Pair("", message)));
}

TEST(StatusConvertTest, FieldSyntax) {
  auto field_of = [](absl::string_view message) {
    std::vector<FieldViolation> v = FieldViolationsOf(message);
    return v.size() == 1 ? v[0].field : "<several>";
  };
  EXPECT_EQ(field_of("page_token: malformed"), "page_token");
  EXPECT_EQ(field_of("a.b[0][12].c: x"), "a.b[0][12].c");
  EXPECT_EQ(field_of("TOKENAUTH_BOOTSTRAP_ADMIN: x"),
            "TOKENAUTH_BOOTSTRAP_ADMIN");
  EXPECT_EQ(field_of("token prefix: x"), "");
  EXPECT_EQ(field_of("MixedCase: x"), "");
  EXPECT_EQ(field_of("a[]: x"), "");
  EXPECT_EQ(field_of("a[x]: x"), "");
  EXPECT_EQ(field_of("a..b: x"), "");
  EXPECT_EQ(field_of("no colon at all"), "");
  EXPECT_EQ(field_of("name:no space"), "");
}

TEST(StatusConvertTest, ASpecificReasonKeepsItsMetadataAndGetsTheField) {
  absl::Status in = WithReason(
      absl::InvalidArgumentError(
          "ttl: at most 30d from now (ACCESS_TOKEN_MAX_LIFETIME)"),
      reasons::kLifetimeTooLong, {{"max_lifetime_seconds", "2592000"}});
  Decoded d = Decode(ToGrpcStatus(in));
  EXPECT_EQ(d.infos[0].reason(), "LIFETIME_TOO_LONG");
  EXPECT_THAT(MetadataOf(d.infos[0]),
              UnorderedElementsAre(Pair("max_lifetime_seconds", "2592000"),
                                   Pair("field", "ttl")));
  EXPECT_THAT(ViolationsOf(d),
              ElementsAre(Pair(
                  "ttl", "at most 30d from now (ACCESS_TOKEN_MAX_LIFETIME)")));
}

TEST(StatusConvertTest, OtherCodesCarryOnlyTheErrorInfo) {
  absl::Status in = WithReason(absl::UnauthenticatedError("token: revoked"),
                               reasons::kTokenRevoked, {{"token_id", "abc"}});
  grpc::Status s = ToGrpcStatus(in);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message(), "token: revoked");
  Decoded d = Decode(s);
  EXPECT_EQ(d.status.details_size(), 1);
  EXPECT_TRUE(d.bad_requests.empty());
  EXPECT_EQ(d.infos[0].reason(), "TOKEN_REVOKED");
  EXPECT_THAT(MetadataOf(d.infos[0]), ElementsAre(Pair("token_id", "abc")));

  // A "field" attached to a non-INVALID_ARGUMENT status stays metadata only.
  Decoded taken = Decode(ToGrpcStatus(WithReason(
      absl::AlreadyExistsError("username: \"bob\" is taken"),
      reasons::kUsernameTaken, {{"field", "username"}, {"username", "bob"}})));
  EXPECT_EQ(taken.infos[0].reason(), "USERNAME_TAKEN");
  EXPECT_EQ(MetadataOf(taken.infos[0]).size(), 2u);
  EXPECT_TRUE(taken.bad_requests.empty());
}

TEST(StatusConvertTest, EveryCodeWithoutAReasonGetsItsDefault) {
  const std::vector<std::pair<absl::StatusCode, std::string>> cases = {
      {absl::StatusCode::kCancelled, "CANCELLED"},
      {absl::StatusCode::kDeadlineExceeded, "DEADLINE_EXCEEDED"},
      {absl::StatusCode::kNotFound, "NOT_FOUND"},
      {absl::StatusCode::kAlreadyExists, "ALREADY_EXISTS"},
      {absl::StatusCode::kPermissionDenied, "PERMISSION_DENIED"},
      {absl::StatusCode::kResourceExhausted, "RESOURCE_EXHAUSTED"},
      {absl::StatusCode::kFailedPrecondition, "FAILED_PRECONDITION"},
      {absl::StatusCode::kAborted, "ABORTED"},
      {absl::StatusCode::kOutOfRange, "OUT_OF_RANGE"},
      {absl::StatusCode::kUnimplemented, "UNIMPLEMENTED"},
      {absl::StatusCode::kUnavailable, "DATABASE_UNAVAILABLE"},
      {absl::StatusCode::kDataLoss, "DATA_LOSS"},
      {absl::StatusCode::kUnauthenticated, "UNAUTHENTICATED"},
  };
  for (const auto& [code, reason] : cases) {
    const std::string message = absl::StrCat("thing: went wrong ", reason);
    grpc::Status s = ToGrpcStatus(absl::Status(code, message));
    EXPECT_EQ(static_cast<int>(s.error_code()), static_cast<int>(code));
    EXPECT_EQ(s.error_message(), message);
    Decoded d = Decode(s);
    EXPECT_EQ(d.infos[0].reason(), reason);
    EXPECT_THAT(MetadataOf(d.infos[0]), IsEmpty()) << reason;
    EXPECT_EQ(d.status.details_size(), 1) << reason;
  }
}

TEST(StatusConvertTest, InternalAndUnknownRevealNothing) {
  for (absl::StatusCode code :
       {absl::StatusCode::kInternal, absl::StatusCode::kUnknown}) {
    absl::Status in =
        WithReason(absl::Status(code, "MySQL error 1064 near 'secret-ish'"),
                   "LEAKY", {{"query", "SELECT secret"}});
    grpc::Status s = ToGrpcStatus(in, "/test/Method");
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
    EXPECT_EQ(s.error_message(),
              "internal error; the server log has the details");
    Decoded d = Decode(s);
    EXPECT_EQ(d.infos[0].reason(), "INTERNAL");
    EXPECT_THAT(MetadataOf(d.infos[0]), IsEmpty());
    EXPECT_EQ(d.status.details_size(), 1);
    EXPECT_EQ(s.error_details().find("secret"), std::string::npos);
  }
}

TEST(StatusConvertTest, MakeGrpcStatusPacksWhatItIsGiven) {
  grpc::Status s = MakeGrpcStatus(
      grpc::StatusCode::INVALID_ARGUMENT,
      "request: not a valid message of the method's request type",
      "REQUEST_MALFORMED", {},
      {FieldViolation{"", "not a valid message of the method's request type"}});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  Decoded d = Decode(s);
  EXPECT_EQ(d.infos[0].reason(), "REQUEST_MALFORMED");
  EXPECT_THAT(ViolationsOf(d),
              ElementsAre(Pair(
                  "", "not a valid message of the method's request type")));
}

}  // namespace
}  // namespace tokenauth
