// Fuzz target for the Personal Access Token format (core/token_format.h):
// TokenFormat::Parse, TokenFormat::Generate, TokenFormat::ValidatePrefix and
// Base62Checksum. Properties checked on every input:
//
//  1. Parse accepts exactly the well-formed values: "<prefix>_" then 40
//     base62 characters whose last 6 are the CRC32 of everything before them
//     (checked against a bitwise CRC32 written here, not zlib's). So a value
//     whose checksum does not match is never accepted. Accepted values yield
//     their 12-character id.
//  2. Parse's errors are UNAUTHENTICATED and are one of a fixed set (message
//     and payloads as neutral inputs produce them), so they never carry any
//     byte of the value.
//  3. Base62Checksum(data, w) is the CRC32 of data, mod 62^w, as w base62
//     digits, for w = 0..12.
//  4. Generated tokens (the input used as the random source) always parse to
//     their public id, have the documented length and hint, and every
//     one-byte substitution and every swap of two different adjacent
//     characters (other than across the head/checksum boundary, which CRC32
//     cannot promise) is refused, as is a one-byte deletion or insertion.
//  5. ValidatePrefix accepts exactly [a-z0-9]{1,16}.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/random.h"
#include "core/token_format.h"
#include "fuzz/fuzz_check.h"

namespace tokenauth::fuzz {
namespace {

constexpr char kAlphabet[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr size_t kBodyLength = TokenFormat::kIdLength +
                               TokenFormat::kSecretLength +
                               TokenFormat::kChecksumLength;

// Bitwise CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the one
// zlib's crc32() computes; independent of zlib's table-driven code.
uint32_t ReferenceCrc32(absl::string_view data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) {
      crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
  }
  return ~crc;
}

// `crc` mod 62^width as `width` base62 digits, most significant first.
std::string Base62Digits(uint64_t crc, int width) {
  std::string out;
  for (int i = 0; i < width; ++i) {
    const int exponent = width - 1 - i;
    // 62^6 > 2^32: digits at exponent >= 6 are always zero.
    if (exponent >= 6) {
      out.push_back('0');
      continue;
    }
    uint64_t power = 1;
    for (int e = 0; e < exponent; ++e) power *= 62;
    out.push_back(kAlphabet[(crc / power) % 62]);
  }
  return out;
}

std::string ReferenceChecksum(absl::string_view data, int width) {
  return Base62Digits(ReferenceCrc32(data), width);
}

bool ReferenceIsBase62(absl::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
          (c >= 'a' && c <= 'z'))) {
      return false;
    }
  }
  return true;
}

// What Parse must do, written from the format's definition.
bool ReferenceWellFormed(absl::string_view prefix, absl::string_view value) {
  if (value.size() != prefix.size() + 1 + kBodyLength) return false;
  if (value.substr(0, prefix.size()) != prefix) return false;
  if (value[prefix.size()] != '_') return false;
  if (!ReferenceIsBase62(value.substr(prefix.size() + 1))) return false;
  const size_t head = value.size() - TokenFormat::kChecksumLength;
  return ReferenceChecksum(value.substr(0, head),
                           TokenFormat::kChecksumLength) == value.substr(head);
}

bool ReferenceValidPrefix(absl::string_view prefix) {
  if (prefix.empty() || prefix.size() > 16) return false;
  for (char c : prefix) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

// Random bytes from the fuzz input, then a fixed sequence that always has
// bytes below 248, so RandomBase62's rejection sampling terminates.
class InputRandom : public Random {
 public:
  explicit InputRandom(absl::string_view bytes) : bytes_(bytes) {}
  void Fill(absl::Span<uint8_t> out) override {
    for (uint8_t& b : out) {
      if (pos_ < bytes_.size()) {
        b = static_cast<uint8_t>(bytes_[pos_++]);
      } else {
        b = static_cast<uint8_t>(counter_++ * 37 + 11);
      }
    }
  }

 private:
  absl::string_view bytes_;
  size_t pos_ = 0;
  uint32_t counter_ = 0;
};

struct Format {
  explicit Format(std::string prefix) : format(std::move(prefix)) {
    // Error messages for neutral inputs, one per way Parse can refuse. Any
    // other message must have come from the input's bytes.
    const std::string p = format.prefix();
    for (const std::string& neutral :
         {std::string(), p + "_" + std::string(kBodyLength, '~'),
          p + "_" + std::string(kBodyLength, '0')}) {
      absl::StatusOr<std::string> r = format.Parse(neutral);
      FUZZ_CHECK(!r.ok(), "neutral input accepted: " + Quote(neutral));
      refusals.insert(StatusFingerprint(r.status()));
    }
  }
  TokenFormat format;
  std::set<std::string> refusals;
};

void CheckParse(const Format& f, absl::string_view value) {
  absl::StatusOr<std::string> id = f.format.Parse(value);
  const bool want = ReferenceWellFormed(f.format.prefix(), value);
  FUZZ_CHECK(id.ok() == want,
             absl::StrCat("Parse ", id.ok() ? "accepted" : "refused", " ",
                          Quote(value), " (reference says ",
                          want ? "well formed" : "malformed",
                          "): ", id.status().ToString()));
  if (id.ok()) {
    FUZZ_CHECK(*id == value.substr(f.format.prefix().size() + 1,
                                   TokenFormat::kIdLength),
               "wrong id " + Quote(*id) + " for " + Quote(value));
    return;
  }
  FUZZ_CHECK(id.status().code() == absl::StatusCode::kUnauthenticated,
             id.status().ToString());
  FUZZ_CHECK(f.refusals.count(StatusFingerprint(id.status())) == 1,
             "error depends on the value (may echo it): " +
                 StatusFingerprint(id.status()) + " for " + Quote(value));
}

void CheckChecksum(absl::string_view data) {
  const uint32_t crc = ReferenceCrc32(data);
  for (int width = 0; width <= 12; ++width) {
    const std::string got = Base62Checksum(data, width);
    FUZZ_CHECK(got == Base62Digits(crc, width),
               absl::StrCat("Base62Checksum(", Quote(data), ", ", width,
                            ") = ", got, ", want ", Base62Digits(crc, width)));
  }
}

// `thorough`: try every substitution and swap; otherwise one of each at a
// position the input chooses (keeps the executions per second up).
void CheckGenerated(const Format& f, absl::string_view randomness,
                    unsigned char salt, bool thorough) {
  InputRandom random(randomness);
  const TokenFormat::NewToken t = f.format.Generate(random);
  const std::string& p = f.format.prefix();
  FUZZ_CHECK(t.value.size() == p.size() + 1 + kBodyLength, Quote(t.value));
  FUZZ_CHECK(ReferenceWellFormed(p, t.value), Quote(t.value));
  absl::StatusOr<std::string> id = f.format.Parse(t.value);
  FUZZ_CHECK(id.ok() && *id == t.public_id,
             "generated token refused or wrong id: " + Quote(t.value) + " " +
                 id.status().ToString());
  FUZZ_CHECK(t.hint == absl::StrCat(p, "_", t.public_id, "...",
                                    t.value.substr(t.value.size() - 4)),
             "hint " + Quote(t.hint) + " for " + Quote(t.value));

  const std::string hash = TokenFormat::Hash(t.value);
  FUZZ_CHECK(hash.size() == 64 && TokenFormat::HashesEqual(hash, hash), hash);

  const size_t chosen = salt % t.value.size();
  {
    std::string v = t.value;
    v.erase(chosen, 1);
    FUZZ_CHECK(!f.format.Parse(v).ok(), "deletion accepted: " + Quote(v));
    v = t.value;
    v.insert(chosen, 1, kAlphabet[salt % 62]);
    FUZZ_CHECK(!f.format.Parse(v).ok(), "insertion accepted: " + Quote(v));
  }
  // Every one-byte substitution is refused (CRC32 detects every error burst
  // shorter than 33 bits; the prefix and '_' are compared exactly).
  for (size_t i = thorough ? 0 : chosen;
       i < (thorough ? t.value.size() : chosen + 1); ++i) {
    std::string v = t.value;
    v[i] = static_cast<char>(v[i] + 1 + salt % 255);
    FUZZ_CHECK(
        !f.format.Parse(v).ok(),
        "one-byte change accepted: " + Quote(v) + " from " + Quote(t.value));
  }
  // Every swap of two different adjacent characters within the head or
  // within the checksum is refused.
  const size_t checksum_start = t.value.size() - TokenFormat::kChecksumLength;
  for (size_t i = thorough ? 0 : chosen;
       i + 1 <
       (thorough ? t.value.size() : std::min(chosen + 2, t.value.size()));
       ++i) {
    if (i + 1 == checksum_start || t.value[i] == t.value[i + 1]) continue;
    std::string v = t.value;
    std::swap(v[i], v[i + 1]);
    FUZZ_CHECK(!f.format.Parse(v).ok(), "transposition accepted: " + Quote(v) +
                                            " from " + Quote(t.value));
  }
}

}  // namespace
}  // namespace tokenauth::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tokenauth;        // NOLINT
  using namespace tokenauth::fuzz;  // NOLINT
  static const Format* const kShort = new Format("tka");
  static const Format* const kLong = new Format("abcdefghij012345");
  const absl::string_view input(reinterpret_cast<const char*>(data), size);

  // The raw bytes as a value, and as a value whose checksum is fixed up
  // (so acceptance is reached without the fuzzer guessing a CRC).
  for (const Format* f : {kShort, kLong}) {
    CheckParse(*f, input);
    const std::string head = absl::StrCat(
        f->format.prefix(), "_",
        input.substr(0, kBodyLength - TokenFormat::kChecksumLength));
    CheckParse(*f,
               head + ReferenceChecksum(head, TokenFormat::kChecksumLength));
    if (size >= TokenFormat::kChecksumLength) {
      const absl::string_view h =
          input.substr(0, size - TokenFormat::kChecksumLength);
      CheckParse(*f, absl::StrCat(h, ReferenceChecksum(
                                         h, TokenFormat::kChecksumLength)));
    }
  }

  CheckChecksum(input);

  const unsigned char salt = size == 0 ? 0 : data[0];
  CheckGenerated(*kShort, input, salt, /*thorough=*/true);
  CheckGenerated(*kLong, input, salt, /*thorough=*/false);

  const absl::string_view prefix = input.substr(0, input.find('\n'));
  FUZZ_CHECK(
      TokenFormat::ValidatePrefix(prefix).ok() == ReferenceValidPrefix(prefix),
      "ValidatePrefix(" + Quote(prefix) + ")");
  return 0;
}
