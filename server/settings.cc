#include "server/settings.h"

#include <cstdlib>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/duration.h"

namespace tokenauth {

bool AbslParseFlag(absl::string_view text, DurationSetting* out,
                   std::string* error) {
  absl::StatusOr<absl::Duration> d = ParseSettingDuration(text);
  if (!d.ok()) {
    *error = std::string(d.status().message());
    return false;
  }
  out->value = *d;
  return true;
}

std::string AbslUnparseFlag(const DurationSetting& d) {
  return FormatSettingDuration(d.value);
}

absl::Status ApplyEnvironmentToFlags(absl::string_view defined_in) {
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!absl::EndsWith(flag->Filename(), defined_in)) continue;
    const std::string env = absl::AsciiStrToUpper(name);
    const char* value = std::getenv(env.c_str());
    if (value == nullptr) continue;
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(absl::StrCat(env, ": ", error));
    }
  }
  return absl::OkStatus();
}

}  // namespace tokenauth
