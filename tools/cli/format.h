// Text output of the CLI: times, tokens, sessions and users as people read
// them. (--output json prints the protobuf messages instead.) Stateless.
#ifndef TOKENAUTH_TOOLS_CLI_FORMAT_H_
#define TOKENAUTH_TOOLS_CLI_FORMAT_H_

#include <string>

#include "google/protobuf/timestamp.pb.h"
#include "tokenauth/v1/resources.pb.h"

namespace tokenauth::cli {

// "2025-01-31 00:00:00 UTC", or `unset` when the timestamp is not set.
std::string FormatTimestamp(const google::protobuf::Timestamp& t,
                            const std::string& unset);
std::string AccessName(v1::TokenAccess access);  // "read-only"...
std::string StateName(v1::TokenState state);     // "active"...
std::string KindName(v1::CredentialKind kind);   // "session"...

// "name: value" lines.
std::string TokenDetails(const v1::Token& token);
std::string UserDetails(const v1::User& user);
// One line per entry, under a header line.
std::string TokenTableHeader();
std::string TokenTableRow(const v1::Token& token);
std::string SessionTableHeader();
std::string SessionTableRow(const v1::Session& session, bool current);

}  // namespace tokenauth::cli

#endif  // TOKENAUTH_TOOLS_CLI_FORMAT_H_
