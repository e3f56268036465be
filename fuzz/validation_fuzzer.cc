// Fuzz target for input rules (core/validation.h): IsValidUtf8,
// HasControlCharacters, ValidateTokenName and ValidateUsername. Properties
// checked on every input:
//
//  1. IsValidUtf8 agrees with a reference decoder driven by the table of
//     well-formed byte sequences in the Unicode Standard (Table 3-7).
//  2. HasControlCharacters (on valid UTF-8) agrees with a check of the
//     decoded code points: C0, DEL, C1, U+202A..U+202E, U+2066..U+2069.
//  3. ValidateTokenName accepts exactly 1..255 bytes of valid UTF-8 without
//     those characters; a refusal is INVALID_ARGUMENT "<field>: <rule>" and
//     one of the refusals neutral names produce, so it never echoes the name.
//  4. ValidateUsername accepts exactly 1..64 characters from [A-Za-z0-9._@-].
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/validation.h"
#include "fuzz/fuzz_check.h"

namespace tokenauth::fuzz {
namespace {

// Decodes well-formed UTF-8 into code points; false at the first ill-formed
// sequence. Unicode 15, Table 3-7: the allowed second byte depends on the
// first; third and fourth bytes are always 80..BF.
bool ReferenceDecode(absl::string_view s, std::vector<uint32_t>* out) {
  size_t i = 0;
  while (i < s.size()) {
    const uint8_t b0 = static_cast<uint8_t>(s[i]);
    int length;
    uint8_t lo = 0x80, hi = 0xBF;  // Range of the second byte.
    if (b0 <= 0x7F) {
      length = 1;
    } else if (b0 >= 0xC2 && b0 <= 0xDF) {
      length = 2;
    } else if (b0 == 0xE0) {
      length = 3, lo = 0xA0;
    } else if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) {
      length = 3;
    } else if (b0 == 0xED) {
      length = 3, hi = 0x9F;
    } else if (b0 == 0xF0) {
      length = 4, lo = 0x90;
    } else if (b0 >= 0xF1 && b0 <= 0xF3) {
      length = 4;
    } else if (b0 == 0xF4) {
      length = 4, hi = 0x8F;
    } else {
      return false;
    }
    if (s.size() - i < static_cast<size_t>(length)) return false;
    uint32_t cp = length == 1   ? b0
                  : length == 2 ? (b0 & 0x1F)
                  : length == 3 ? (b0 & 0x0F)
                                : (b0 & 0x07);
    for (int k = 1; k < length; ++k) {
      const uint8_t b = static_cast<uint8_t>(s[i + k]);
      const uint8_t min = k == 1 ? lo : 0x80, max = k == 1 ? hi : 0xBF;
      if (b < min || b > max) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    out->push_back(cp);
    i += length;
  }
  return true;
}

bool ReferenceIsControl(uint32_t cp) {
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) ||
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

bool ReferenceValidUsername(absl::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' ||
          c == '-')) {
      return false;
    }
  }
  return true;
}

constexpr absl::string_view kField = "token.name";

// Refusals of neutral names, one per rule; the too-long one names the size,
// so it is made for the size at hand.
std::set<std::string> AllowedNameRefusals(size_t size) {
  std::set<std::string> m;
  for (const std::string& neutral :
       {std::string(), std::string(size, 'x'), std::string("\xff"),
        std::string("\x01")}) {
    absl::Status s = ValidateTokenName(kField, neutral);
    if (!s.ok()) m.insert(StatusFingerprint(s));
  }
  return m;
}

}  // namespace
}  // namespace tokenauth::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tokenauth;        // NOLINT
  using namespace tokenauth::fuzz;  // NOLINT
  const absl::string_view s(reinterpret_cast<const char*>(data), size);

  std::vector<uint32_t> cps;
  const bool valid = ReferenceDecode(s, &cps);
  FUZZ_CHECK(IsValidUtf8(s) == valid,
             absl::StrCat("IsValidUtf8(", Quote(s), ") = ", !valid,
                          ", reference decoder says ", valid));
  bool control = false;
  for (uint32_t cp : cps) control = control || ReferenceIsControl(cp);
  if (valid) {
    FUZZ_CHECK(
        HasControlCharacters(s) == control,
        absl::StrCat("HasControlCharacters(", Quote(s), ") = ", !control));
  }

  const absl::Status name = ValidateTokenName(kField, s);
  const bool want_name =
      !s.empty() && s.size() <= kMaxTokenNameBytes && valid && !control;
  FUZZ_CHECK(
      name.ok() == want_name,
      absl::StrCat("ValidateTokenName(", Quote(s), ") = ", name.ToString(),
                   ", want ", want_name ? "OK" : "refused"));
  if (!name.ok()) {
    FUZZ_CHECK(name.code() == absl::StatusCode::kInvalidArgument &&
                   absl::StartsWith(name.message(), absl::StrCat(kField, ": ")),
               name.ToString());
    FUZZ_CHECK(AllowedNameRefusals(size).count(StatusFingerprint(name)) == 1,
               "error depends on the name: " + StatusFingerprint(name));
  }

  FUZZ_CHECK(ValidateUsername("username", s).ok() == ReferenceValidUsername(s),
             "ValidateUsername(" + Quote(s) + ")");
  return 0;
}
