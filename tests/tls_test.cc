// server/tls.h without files: which listen addresses count as loopback (no
// plaintext warning), and the settings errors that need no file.
#include "server/tls.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace tokenauth {
namespace {

TEST(IsLoopbackListenAddressTest, LoopbackHosts) {
  for (const char* listen :
       {"127.0.0.1:50051", "127.1.2.3:1", "localhost:50051", "LocalHost:1",
        "[::1]:50051", "::1", "[::ffff:127.0.0.1]:50051", "127.0.0.1",
        "unix:/run/tokenauth.sock", "unix-abstract:tokenauth"}) {
    EXPECT_TRUE(IsLoopbackListenAddress(listen)) << listen;
  }
}

TEST(IsLoopbackListenAddressTest, ReachableHosts) {
  for (const char* listen :
       {"0.0.0.0:50051", "[::]:50051", "10.0.0.5:50051", "128.0.0.1:1",
        "tokenauth.internal:50051", "localhost.example.com:1", ":50051",
        "[::1:50051", "", "[::ffff:10.0.0.1]:1"}) {
    EXPECT_FALSE(IsLoopbackListenAddress(listen)) << listen;
  }
}

TEST(PlaintextListenWarningTest, SaysWhatAndHow) {
  const std::string w = PlaintextListenWarning("0.0.0.0:50051");
  EXPECT_TRUE(absl::StrContains(w, "WITHOUT TLS on 0.0.0.0:50051")) << w;
  EXPECT_TRUE(absl::StrContains(w, "TOKENAUTH_TLS_CERT_FILE")) << w;
  EXPECT_EQ(w.find('\n'), std::string::npos) << w;
}

TEST(MakeServerCredentialsTest, NoSettingsIsPlaintext) {
  EXPECT_TRUE(MakeServerCredentials(TlsSettings()).ok());
}

TEST(MakeServerCredentialsTest, IncompleteSettingsNameTheSetting) {
  struct Case {
    TlsSettings settings;
    const char* want;
  };
  for (const Case& c : {
           Case{{"cert.pem", "", ""}, "TOKENAUTH_TLS_KEY_FILE: must be set"},
           Case{{"", "key.pem", ""}, "TOKENAUTH_TLS_CERT_FILE: must be set"},
           Case{{"", "", "ca.pem"}, "TOKENAUTH_TLS_CLIENT_CA_FILE: client"},
           Case{{"/nonexistent/cert.pem", "/nonexistent/key.pem", ""},
                "TOKENAUTH_TLS_CERT_FILE: cannot read /nonexistent/cert.pem"},
       }) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> got =
        MakeServerCredentials(c.settings);
    ASSERT_FALSE(got.ok()) << c.want;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(got.status().message(), c.want))
        << got.status();
  }
}

}  // namespace
}  // namespace tokenauth
