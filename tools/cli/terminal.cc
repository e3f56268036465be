#include "terminal.h"

#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <iostream>

#include "absl/strings/str_cat.h"

namespace tokenauth::cli {
namespace {

termios saved_termios;
volatile sig_atomic_t echo_off = 0;

void RestoreEchoAndDie(int sig) {
  if (echo_off) tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
  signal(sig, SIG_DFL);
  raise(sig);
}

absl::StatusOr<std::string> GetLine() {
  std::string line;
  if (!std::getline(std::cin, line)) {
    return absl::InvalidArgumentError("no input: expected a line on stdin");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

bool StdinIsTerminal() { return isatty(STDIN_FILENO) == 1; }

absl::StatusOr<std::string> ReadLine(absl::string_view prompt) {
  if (StdinIsTerminal()) std::cerr << prompt << std::flush;
  return GetLine();
}

absl::StatusOr<std::string> ReadSecret(absl::string_view prompt) {
  if (!StdinIsTerminal()) return GetLine();
  std::cerr << prompt << std::flush;
  if (tcgetattr(STDIN_FILENO, &saved_termios) != 0) return GetLine();
  termios quiet = saved_termios;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  auto old_int = signal(SIGINT, RestoreEchoAndDie);
  auto old_term = signal(SIGTERM, RestoreEchoAndDie);
  echo_off = 1;
  tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  absl::StatusOr<std::string> line = GetLine();
  tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
  echo_off = 0;
  signal(SIGINT, old_int);
  signal(SIGTERM, old_term);
  std::cerr << "\n";
  return line;
}

}  // namespace tokenauth::cli
