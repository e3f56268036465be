// FUZZ_CHECK: the assertion the fuzz targets in this folder use for the
// properties they check. A failed check prints the condition and a note and
// aborts, which libFuzzer records as a crash (with the input that caused it).
// Header only; no state.
#ifndef TOKENAUTH_FUZZ_FUZZ_CHECK_H_
#define TOKENAUTH_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace tokenauth::fuzz {

[[noreturn]] inline void CheckFailed(const char* file, int line,
                                     const char* condition,
                                     const std::string& note) {
  std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n  %s\n", file, line,
               condition, note.c_str());
  std::abort();
}

// Bytes shown as a C string literal body, for notes.
inline std::string Quote(absl::string_view bytes) {
  return absl::StrCat("\"", absl::CHexEscape(bytes), "\"");
}

// Everything a status tells its receiver: code, message and payloads (sorted:
// absl::Status::ToString may list them in either order). The targets compare
// these to the fingerprints of refusals of neutral inputs to show that an
// error carries no byte of the input.
inline std::string StatusFingerprint(const absl::Status& status) {
  std::set<std::string> payloads;
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& value) {
    payloads.insert(
        absl::StrCat(url, "=", absl::CHexEscape(std::string(value))));
  });
  return absl::StrCat(absl::StatusCodeToString(status.code()), ": ",
                      status.message(), " [", absl::StrJoin(payloads, "; "),
                      "]");
}

}  // namespace tokenauth::fuzz

#define FUZZ_CHECK(condition, note)                                         \
  do {                                                                      \
    if (!(condition)) {                                                     \
      ::tokenauth::fuzz::CheckFailed(__FILE__, __LINE__, #condition, note); \
    }                                                                       \
  } while (false)

#endif  // TOKENAUTH_FUZZ_FUZZ_CHECK_H_
