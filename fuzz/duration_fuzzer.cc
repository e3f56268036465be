// Fuzz target for duration settings (core/duration.h): ParseSettingDuration
// and FormatSettingDuration. Properties checked on every input:
//
//  1. ParseSettingDuration agrees with a reference parser written from the
//     grammar: "0", or 1..64 characters of <1..12 digits><unit> terms with
//     units d, h, m, s, ms, summed exactly (128-bit milliseconds here), and
//     at most kMaxSettingDuration.
//  2. Refusals are INVALID_ARGUMENT starting "duration: ".
//  3. Round trip: FormatSettingDuration of anything Parse returns parses back
//     to the same value; so does the format of any whole number of
//     milliseconds in [0, kMaxSettingDuration] chosen by the input.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/duration.h"
#include "fuzz/fuzz_check.h"

namespace tokenauth::fuzz {
namespace {

using Millis = __int128;

std::string ToString(Millis v) {
  if (v == 0) return "0";
  std::string out;
  const bool negative = v < 0;
  if (negative) v = -v;
  while (v > 0) {
    out.insert(out.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  return negative ? "-" + out : out;
}

// Milliseconds of a valid text, or nullopt if Parse must refuse it.
std::optional<Millis> ReferenceParse(absl::string_view text) {
  if (text == "0") return 0;
  if (text.empty() || text.size() > 64) return std::nullopt;
  Millis total = 0;
  size_t i = 0;
  while (i < text.size()) {
    Millis n = 0;
    size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (digits < 13) n = n * 10 + (text[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0 || digits > 12) return std::nullopt;
    Millis unit;
    if (text.substr(i, 2) == "ms") {
      unit = 1;
      i += 2;
    } else if (i == text.size()) {
      return std::nullopt;
    } else if (text[i] == 'd') {
      unit = 86400000;
      ++i;
    } else if (text[i] == 'h') {
      unit = 3600000;
      ++i;
    } else if (text[i] == 'm') {
      unit = 60000;
      ++i;
    } else if (text[i] == 's') {
      unit = 1000;
      ++i;
    } else {
      return std::nullopt;
    }
    total += n * unit;
  }
  if (total > kMaxSettingDuration / absl::Milliseconds(1)) return std::nullopt;
  return total;
}

absl::Duration FromMillis(Millis ms) {
  return absl::Seconds(static_cast<int64_t>(ms / 1000)) +
         absl::Milliseconds(static_cast<int64_t>(ms % 1000));
}

void CheckRoundTrip(absl::Duration d, absl::string_view origin) {
  const std::string formatted = FormatSettingDuration(d);
  absl::StatusOr<absl::Duration> again = ParseSettingDuration(formatted);
  FUZZ_CHECK(again.ok() && *again == d,
             absl::StrCat(origin, " -> ", absl::FormatDuration(d),
                          " formats as ", Quote(formatted), " which parses as ",
                          again.ok() ? absl::FormatDuration(*again)
                                     : again.status().ToString()));
}

}  // namespace
}  // namespace tokenauth::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tokenauth;        // NOLINT
  using namespace tokenauth::fuzz;  // NOLINT
  const absl::string_view text(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<absl::Duration> d = ParseSettingDuration(text);
  const std::optional<Millis> want = ReferenceParse(text);
  FUZZ_CHECK(
      d.ok() == want.has_value() && (!d.ok() || *d == FromMillis(*want)),
      absl::StrCat("ParseSettingDuration(", Quote(text), ") = ",
                   d.ok() ? absl::FormatDuration(*d) : d.status().ToString(),
                   "; reference: ", want ? ToString(*want) + "ms" : "refused"));
  if (d.ok()) {
    CheckRoundTrip(*d, Quote(text));
  } else {
    FUZZ_CHECK(d.status().code() == absl::StatusCode::kInvalidArgument &&
                   absl::StartsWith(d.status().message(), "duration: "),
               d.status().ToString());
  }

  FuzzedDataProvider provider(data, size);
  const int64_t max_ms = kMaxSettingDuration / absl::Milliseconds(1);
  const int64_t ms = provider.ConsumeIntegralInRange<int64_t>(0, max_ms);
  CheckRoundTrip(absl::Milliseconds(ms), absl::StrCat(ms, "ms"));
  // Whole seconds, minutes and days are the common case; make them likely.
  CheckRoundTrip(absl::Seconds(ms / 1000), absl::StrCat(ms / 1000, "s"));
  CheckRoundTrip(absl::Hours(24) * (ms / 86400000), "whole days");
  return 0;
}
