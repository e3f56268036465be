// A minimal logger: one line per call on stderr, with a UTC timestamp and a
// level. Never pass it a secret. Thread-safe (one write(2) per line).
#ifndef TOKENAUTH_SERVER_LOG_H_
#define TOKENAUTH_SERVER_LOG_H_

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace tokenauth {

void LogLine(absl::string_view level, absl::string_view message);

template <typename... Args>
void LogInfo(const Args&... args) {
  LogLine("INFO", absl::StrCat(args...));
}
template <typename... Args>
void LogWarning(const Args&... args) {
  LogLine("WARN", absl::StrCat(args...));
}
template <typename... Args>
void LogError(const Args&... args) {
  LogLine("ERROR", absl::StrCat(args...));
}

}  // namespace tokenauth

#endif  // TOKENAUTH_SERVER_LOG_H_
