#include "core/validation.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tokenauth {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", rule));
}

bool IsScopeChar(char c, bool first) {
  unsigned char u = static_cast<unsigned char>(c);
  if (absl::ascii_islower(u) || absl::ascii_isdigit(u)) return true;
  return !first && (c == ':' || c == '.' || c == '_' || c == '-');
}

}  // namespace

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // Truncated sequence.
    for (int k = 1; k <= n; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

absl::Status ValidateTokenName(absl::string_view field,
                               absl::string_view name) {
  if (name.empty()) return Invalid(field, "required (1..255 bytes of UTF-8)");
  if (name.size() > kMaxTokenNameBytes) {
    return Invalid(field, absl::StrCat("at most 255 bytes of UTF-8; got ",
                                       name.size(), " bytes"));
  }
  if (!IsValidUtf8(name)) return Invalid(field, "must be valid UTF-8");
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      return Invalid(field, "must not contain control characters");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateUsername(absl::string_view field,
                              absl::string_view username) {
  if (username.empty() || username.size() > kMaxUsernameLength) {
    return Invalid(field, "must be 1..64 characters from [A-Za-z0-9._@-]");
  }
  for (char c : username) {
    unsigned char u = static_cast<unsigned char>(c);
    if (!(absl::ascii_isalnum(u) || c == '.' || c == '_' || c == '@' ||
          c == '-')) {
      return Invalid(field, "must be 1..64 characters from [A-Za-z0-9._@-]");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidatePassword(absl::string_view field,
                              absl::string_view password) {
  if (password.size() < kMinPasswordBytes ||
      password.size() > kMaxPasswordBytes) {
    return Invalid(field, "must be 8..1024 bytes");
  }
  return absl::OkStatus();
}

absl::Status ValidateScopes(absl::string_view field,
                            const std::vector<std::string>& scopes,
                            const std::vector<std::string>& catalogue) {
  if (scopes.size() > kMaxScopes) {
    return Invalid(field, absl::StrCat("at most ", kMaxScopes, " scopes"));
  }
  std::set<absl::string_view> seen;
  for (size_t i = 0; i < scopes.size(); ++i) {
    const std::string& s = scopes[i];
    std::string f = absl::StrCat(field, "[", i, "]");
    bool ok = !s.empty() && s.size() <= kMaxScopeLength;
    for (size_t k = 0; ok && k < s.size(); ++k) ok = IsScopeChar(s[k], k == 0);
    if (!ok) return Invalid(f, "must match [a-z0-9][a-z0-9:._-]{0,63}");
    if (!seen.insert(s).second) {
      return Invalid(f, absl::StrCat("duplicate scope \"", s, "\""));
    }
    if (!catalogue.empty() &&
        std::find(catalogue.begin(), catalogue.end(), s) == catalogue.end()) {
      return Invalid(f, absl::StrCat("unknown scope \"", s, "\"; known: ",
                                     absl::StrJoin(catalogue, ", ")));
    }
  }
  return absl::OkStatus();
}

}  // namespace tokenauth
