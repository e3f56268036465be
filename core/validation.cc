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

bool HasControlCharacters(absl::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char u = static_cast<unsigned char>(s[i]);
    if (u < 0x20 || u == 0x7F) return true;  // C0 and DEL.
    // C1 controls U+0080..U+009F are encoded C2 80..C2 9F.
    if (u == 0xC2 && i + 1 < s.size()) {
      const unsigned char v = static_cast<unsigned char>(s[i + 1]);
      if (v >= 0x80 && v <= 0x9F) return true;
    }
    // Bidi embeddings and overrides U+202A..U+202E (E2 80 AA..AE) and
    // isolates U+2066..U+2069 (E2 81 A6..A9): they make text display as
    // something else ("Trojan Source").
    if (u == 0xE2 && i + 2 < s.size()) {
      const unsigned char v = static_cast<unsigned char>(s[i + 1]);
      const unsigned char w = static_cast<unsigned char>(s[i + 2]);
      if ((v == 0x80 && w >= 0xAA && w <= 0xAE) ||
          (v == 0x81 && w >= 0xA6 && w <= 0xA9)) {
        return true;
      }
    }
  }
  return false;
}

absl::Status ValidateTokenName(absl::string_view field,
                               absl::string_view name) {
  if (name.empty()) return Invalid(field, "required (1..255 bytes of UTF-8)");
  if (name.size() > kMaxTokenNameBytes) {
    return Invalid(field, absl::StrCat("at most 255 bytes of UTF-8; got ",
                                       name.size(), " bytes"));
  }
  if (!IsValidUtf8(name)) return Invalid(field, "must be valid UTF-8");
  if (HasControlCharacters(name)) {
    return Invalid(field,
                   "must not contain control or bidirectional-override "
                   "characters");
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
