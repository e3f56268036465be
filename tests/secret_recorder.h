// The record of a test run for the after-suite secret scan (secret_scan,
// tests/secret_scan_main.cc): which secrets the tests used, which error
// messages the server returned, and where every server's log is.
//
// The run directory is named by the environment variable
// TOKENAUTH_TEST_RUN_DIR, which CMake sets on every test that starts a server
// (${CMAKE_BINARY_DIR}/test-run; the fixture test secret_scan_reset empties it
// at the start of each ctest run). Without it (a test binary run by hand)
// nothing is recorded. Layout:
//
//   servers/<binary>.<test>.<pid>.<n>.{stdout,stderr}   each server's output
//   secrets.tsv     <kind> TAB <C-escaped value>, one per distinct secret
//   errors.tsv      <binary> TAB <method> TAB <code> TAB <C-escaped message>
//                   TAB <C-escaped binary error details>
//   violations.tsv  responses that carried the SHA-256 of a secret (never the
//                   value); the scan fails if this file has any line
//
// secrets.tsv holds real secrets of the test run (throwaway users, tokens and
// sessions of test databases); it is test-only data, created 0600 inside the
// build directory, and never leaves it. Every record is one write() on an
// O_APPEND descriptor, so parallel test processes never interleave lines.
//
// RecordingInterceptorFactory() records, on every call of a channel it is
// installed on: passwords, token values, session IDs and CSRF tokens in
// requests and responses (found by field name through protobuf reflection),
// the `authorization` (Bearer / Basic, and the base64 of Basic),
// `x-session-id` and `x-csrf-token` metadata, and every non-OK status. It also
// checks every response message for the SHA-256 (raw, hex, base64) of any
// token value, session ID or CSRF token this process has seen, and adds a
// test failure (and a violations.tsv line) on a hit: tokenauth stores those
// hashes and must never return them.
//
// Thread-safety: everything here may be used from any thread; the recorder is
// a process-wide singleton guarded by a mutex.
#ifndef TOKENAUTH_TESTS_SECRET_RECORDER_H_
#define TOKENAUTH_TESTS_SECRET_RECORDER_H_

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/client_interceptor.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace tokenauth::e2e {

// The kinds of secret, as written in secrets.tsv.
inline constexpr absl::string_view kSecretToken = "token";
inline constexpr absl::string_view kSecretPassword = "password";
inline constexpr absl::string_view kSecretBasic = "basic";  // base64(u:p)
inline constexpr absl::string_view kSecretSession = "session";
inline constexpr absl::string_view kSecretCsrf = "csrf";

// (kind, value) pairs.
using SecretList = std::vector<std::pair<std::string, std::string>>;

// The secrets in one message, found by field name: password,
// current_password, new_password; session_id; csrf_token; AuthenticateRequest
// .token, CreateTokenResponse.value and RotateTokenResponse.value (and any
// field named like them in nested messages). Empty values are skipped.
SecretList SecretsInMessage(const google::protobuf::Message& message);
// The secrets in request metadata (authorization, x-session-id,
// x-csrf-token).
SecretList SecretsInMetadata(
    const std::multimap<std::string, std::string>& metadata);

// The run directory, or "" when TOKENAUTH_TEST_RUN_DIR is not set.
std::string TestRunDir();

// Records `secrets` (deduplicated within the process). No-op without a run
// directory, except that the hash check of responses still learns them.
void RecordSecrets(const SecretList& secrets);
// Records a non-OK status of `method`.
void RecordError(absl::string_view method, const grpc::Status& status);
// Paths for a new server's stdout and stderr in <run dir>/servers/, or
// {"", ""} without a run directory. Creates the directory.
std::pair<std::string, std::string> NewServerLogPaths();

// Returns the description of every hash of a known secret (kind and form,
// never the value) found in `bytes`; empty when there is none.
std::vector<std::string> FindSecretHashes(absl::string_view bytes);

// Installs the recording interceptor; add it to every channel a test makes
// to a tokenauth server:
//   std::vector<std::unique_ptr<
//       grpc::experimental::ClientInterceptorFactoryInterface>> v;
//   v.push_back(RecordingInterceptorFactory());
//   grpc::experimental::CreateCustomChannelWithInterceptors(..., std::move(v));
std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>
RecordingInterceptorFactory();

// A channel to `address` with `credentials` (null: plaintext), `args` and
// the recording interceptor.
std::shared_ptr<grpc::Channel> NewRecordingChannel(
    const std::string& address,
    std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr,
    const grpc::ChannelArguments& args = grpc::ChannelArguments());

}  // namespace tokenauth::e2e

#endif  // TOKENAUTH_TESTS_SECRET_RECORDER_H_
