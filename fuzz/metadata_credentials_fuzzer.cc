// Fuzz target for reading the caller's credential from request metadata
// (core/metadata_credentials.h): ParseAuthorizationHeader and
// CredentialFromMetadata. Properties checked on every input:
//
//  1. Errors are UNAUTHENTICATED and one of a fixed set: message and payloads
//     as neutral inputs produce them (compared ignoring case, since a header
//     name is echoed as sent). So an error never carries a byte of a token,
//     password, session ID or CSRF token.
//  2. ParseAuthorizationHeader agrees with a reference written from the
//     header grammar: "<scheme> <credential>", scheme Bearer or Basic in any
//     case, surrounding whitespace ignored, Basic is base64 of
//     "<username>:<password>" split at the first ':', at most 8 KiB.
//  3. Round trips: "Bearer <t>" gives back t; "Basic base64(u:p)" gives back
//     u and p (u without ':'); changing the scheme's case changes nothing.
//  4. CredentialFromMetadata agrees with a reference model: one credential at
//     most, no header twice, no authorization together with a session, a CSRF
//     token only with a session ID; otherwise the same answer as parsing the
//     one header.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/metadata_credentials.h"
#include "fuzz/fuzz_check.h"

namespace tokenauth::fuzz {
namespace {

using Metadata = std::vector<std::pair<absl::string_view, absl::string_view>>;

constexpr absl::string_view kKeys[] = {"authorization", "x-session-id",
                                       "x-csrf-token"};

std::string Describe(const absl::StatusOr<Credential>& c) {
  if (!c.ok()) return c.status().ToString();
  if (const auto* t = std::get_if<TokenCredential>(&*c)) {
    return "token " + Quote(t->value);
  }
  if (const auto* b = std::get_if<BasicCredential>(&*c)) {
    return "basic " + Quote(b->username) + " " + Quote(b->password);
  }
  const auto& s = std::get<SessionCredential>(*c);
  return "session " + Quote(s.session_id) + " " + Quote(s.csrf_token);
}

bool SameCredential(const Credential& a, const Credential& b) {
  if (a.index() != b.index()) return false;
  if (const auto* t = std::get_if<TokenCredential>(&a)) {
    return t->value == std::get<TokenCredential>(b).value;
  }
  if (const auto* x = std::get_if<BasicCredential>(&a)) {
    const auto& y = std::get<BasicCredential>(b);
    return x->username == y.username && x->password == y.password;
  }
  const auto& x = std::get<SessionCredential>(a);
  const auto& y = std::get<SessionCredential>(b);
  return x.session_id == y.session_id && x.csrf_token == y.csrf_token;
}

// Every refusal (StatusFingerprint, lower-cased) the parsers may return.
const std::set<std::string>& AllowedMessages() {
  static const std::set<std::string>* const kMessages = [] {
    auto* messages = new std::set<std::string>;
    auto add = [&](const absl::Status& s) {
      FUZZ_CHECK(!s.ok(), "neutral input accepted");
      messages->insert(absl::AsciiStrToLower(StatusFingerprint(s)));
    };
    const std::string big(kMaxCredentialHeaderBytes + 1, 'x');
    for (const std::string& header :
         {big, std::string(), std::string("Basic !"),
          "Basic " + absl::Base64Escape("x"), std::string("Other x")}) {
      add(ParseAuthorizationHeader(header).status());
    }
    for (absl::string_view key : kKeys) {
      add(CredentialFromMetadata({{key, "x"}, {key, "x"}}).status());
      add(CredentialFromMetadata({{key, big}}).status());
    }
    add(CredentialFromMetadata(
            {{"authorization", "Bearer x"}, {"x-session-id", "x"}})
            .status());
    add(CredentialFromMetadata({{"x-csrf-token", "x"}}).status());
    add(CredentialFromMetadata({}).status());
    return messages;
  }();
  return *kMessages;
}

void CheckRefusal(const absl::Status& s, absl::string_view what) {
  FUZZ_CHECK(s.code() == absl::StatusCode::kUnauthenticated,
             s.ToString() + " for " + std::string(what));
  FUZZ_CHECK(
      AllowedMessages().count(absl::AsciiStrToLower(StatusFingerprint(s))) == 1,
      "error depends on the credential (may echo it): " + StatusFingerprint(s) +
          " for " + std::string(what));
}

// The header grammar, written independently of the parser.
absl::StatusOr<Credential> ReferenceParse(absl::string_view value) {
  const absl::Status refused = absl::UnauthenticatedError("refused");
  if (value.size() > kMaxCredentialHeaderBytes) return refused;
  size_t begin = 0, end = value.size();
  while (begin < end && absl::ascii_isspace(value[begin])) ++begin;
  while (end > begin && absl::ascii_isspace(value[end - 1])) --end;
  const absl::string_view s = value.substr(begin, end - begin);
  size_t space = 0;
  while (space < s.size() && s[space] != ' ') ++space;
  if (space == s.size()) return refused;
  const std::string scheme = absl::AsciiStrToLower(s.substr(0, space));
  size_t cred = space;
  while (cred < s.size() && absl::ascii_isspace(s[cred])) ++cred;
  const absl::string_view credential = s.substr(cred);
  if (credential.empty()) return refused;
  if (scheme == "bearer") return TokenCredential{std::string(credential)};
  if (scheme != "basic") return refused;
  std::string decoded;
  if (!absl::Base64Unescape(credential, &decoded)) return refused;
  const size_t colon = decoded.find(':');
  if (colon == std::string::npos) return refused;
  return BasicCredential{decoded.substr(0, colon), decoded.substr(colon + 1)};
}

void CheckHeader(absl::string_view value) {
  const absl::StatusOr<Credential> got = ParseAuthorizationHeader(value);
  const absl::StatusOr<Credential> want = ReferenceParse(value);
  FUZZ_CHECK(
      got.ok() == want.ok() && (!got.ok() || SameCredential(*got, *want)),
      "header " + Quote(value) + ": got " + Describe(got) + ", reference " +
          Describe(want));
  if (!got.ok()) CheckRefusal(got.status(), "header " + Quote(value));
  if (const auto* b =
          got.ok() ? std::get_if<BasicCredential>(&*got) : nullptr) {
    FUZZ_CHECK(b->username.find(':') == std::string::npos, Describe(got));
  }
}

void CheckRoundTrips(absl::string_view input) {
  // Bearer: any non-empty credential without surrounding whitespace.
  const absl::string_view token = absl::StripAsciiWhitespace(input);
  if (!token.empty() && token.size() + 8 <= kMaxCredentialHeaderBytes) {
    for (const char* scheme : {"Bearer ", "bearer ", "BEARER  ", " bEaReR "}) {
      const std::string header = absl::StrCat(scheme, token);
      absl::StatusOr<Credential> c = ParseAuthorizationHeader(header);
      FUZZ_CHECK(
          c.ok() && SameCredential(*c, TokenCredential{std::string(token)}),
          "Bearer round trip of " + Quote(token) + ": " + Describe(c));
    }
  }
  // Basic: username up to the first ':', the rest is the password.
  const size_t colon = input.find(':');
  const absl::string_view username = input.substr(0, colon);
  const absl::string_view password =
      colon == absl::string_view::npos ? "" : input.substr(colon + 1);
  const std::string encoded =
      absl::Base64Escape(absl::StrCat(username, ":", password));
  if (encoded.size() + 8 <= kMaxCredentialHeaderBytes) {
    for (const char* scheme : {"Basic ", "basic ", "BASIC   "}) {
      const std::string header = absl::StrCat(scheme, encoded);
      absl::StatusOr<Credential> c = ParseAuthorizationHeader(header);
      FUZZ_CHECK(
          c.ok() && SameCredential(*c, BasicCredential{std::string(username),
                                                       std::string(password)}),
          "Basic round trip of " + Quote(username) + " " + Quote(password) +
              ": " + Describe(c));
    }
  }
}

// What CredentialFromMetadata must answer, from the rules in its header; a
// refusal is any non-OK status.
absl::StatusOr<Credential> ReferenceFromMetadata(const Metadata& md) {
  const absl::Status refused = absl::UnauthenticatedError("refused");
  const absl::string_view* found[3] = {nullptr, nullptr, nullptr};
  for (const auto& [key, value] : md) {
    for (int k = 0; k < 3; ++k) {
      if (!absl::EqualsIgnoreCase(key, kKeys[k])) continue;
      if (found[k] != nullptr) return refused;
      if (value.size() > kMaxCredentialHeaderBytes) return refused;
      found[k] = &value;
    }
  }
  const auto [authorization, session, csrf] = found;
  if (authorization != nullptr) {
    if (session != nullptr || csrf != nullptr) return refused;
    return ParseAuthorizationHeader(*authorization);
  }
  if (session == nullptr) return refused;
  return SessionCredential{
      std::string(absl::StripAsciiWhitespace(*session)),
      csrf == nullptr ? "" : std::string(absl::StripAsciiWhitespace(*csrf))};
}

void CheckMetadata(FuzzedDataProvider& in) {
  static constexpr absl::string_view kOtherKeys[] = {
      "user-agent", "authorization-x", "x-session", "grpc-timeout"};
  std::vector<std::string> keys, values;
  const size_t n = in.ConsumeIntegralInRange<size_t>(0, 5);
  for (size_t i = 0; i < n; ++i) {
    std::string key;
    switch (in.ConsumeIntegralInRange<int>(0, 3)) {
      case 0:  // A credential header, in a case the input chooses.
      case 1: {
        key = std::string(kKeys[in.ConsumeIntegralInRange<size_t>(0, 2)]);
        const uint8_t mask = in.ConsumeIntegral<uint8_t>();
        for (size_t c = 0; c < key.size(); ++c) {
          if (mask & (1u << (c % 8))) key[c] = absl::ascii_toupper(key[c]);
        }
        break;
      }
      case 2:
        key = std::string(kOtherKeys[in.ConsumeIntegralInRange<size_t>(0, 3)]);
        break;
      default:
        key = in.ConsumeRandomLengthString(24);
    }
    keys.push_back(std::move(key));
    std::string value = in.ConsumeRandomLengthString(256);
    if (in.ConsumeBool() && in.ConsumeBool()) {
      value.append(kMaxCredentialHeaderBytes - 2 + value.size() % 8, 'A');
    }
    values.push_back(std::move(value));
  }
  Metadata md;
  for (size_t i = 0; i < keys.size(); ++i) md.emplace_back(keys[i], values[i]);

  std::string what = "metadata {";
  for (const auto& [k, v] : md) {
    absl::StrAppend(
        &what, " ", Quote(k), ": ",
        v.size() > 300 ? absl::StrCat(v.size(), " bytes") : Quote(v), ";");
  }
  what += " }";

  const absl::StatusOr<Credential> got = CredentialFromMetadata(md);
  const absl::StatusOr<Credential> want = ReferenceFromMetadata(md);
  FUZZ_CHECK(
      got.ok() == want.ok() && (!got.ok() || SameCredential(*got, *want)),
      what + ": got " + Describe(got) + ", reference " + Describe(want));
  if (!got.ok()) CheckRefusal(got.status(), what);
}

}  // namespace
}  // namespace tokenauth::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tokenauth::fuzz;  // NOLINT
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  CheckHeader(input);
  CheckRoundTrips(input);
  FuzzedDataProvider provider(data, size);
  CheckMetadata(provider);
  return 0;
}
