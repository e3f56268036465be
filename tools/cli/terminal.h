// Reading secrets (passwords, tokens) for the CLI without putting them on
// the command line: from the terminal with echo off when stdin is one, else
// one line from stdin (for scripts: `printf '%s\n' "$PW" | tokenauth ...`).
// Prompts go to stderr. Not thread-safe (one CLI process).
#ifndef TOKENAUTH_TOOLS_CLI_TERMINAL_H_
#define TOKENAUTH_TOOLS_CLI_TERMINAL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tokenauth::cli {

bool StdinIsTerminal();

// One line (without its newline or a trailing '\r'). On a terminal, prints
// `prompt` to stderr and reads with echo off (restored even on Ctrl-C).
// INVALID_ARGUMENT at end of input.
absl::StatusOr<std::string> ReadSecret(absl::string_view prompt);

// One line, echoed: for a username on a terminal.
absl::StatusOr<std::string> ReadLine(absl::string_view prompt);

}  // namespace tokenauth::cli

#endif  // TOKENAUTH_TOOLS_CLI_TERMINAL_H_
