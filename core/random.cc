#include "core/random.h"

#include <sodium.h>

#include <cstdlib>
#include <vector>

namespace tokenauth {
namespace {
constexpr char kBase62[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
}  // namespace

SodiumRandom::SodiumRandom() {
  if (sodium_init() < 0) std::abort();  // No CSPRNG: nothing is safe to issue.
}

void SodiumRandom::Fill(absl::Span<uint8_t> out) {
  randombytes_buf(out.data(), out.size());
}

std::string RandomBase62(Random& random, int length) {
  std::string out;
  out.reserve(length);
  std::vector<uint8_t> buf(length * 2);
  while (static_cast<int>(out.size()) < length) {
    random.Fill(absl::MakeSpan(buf));
    for (uint8_t b : buf) {
      if (b >= 248) continue;  // 248 = 4 * 62: keeps the draw uniform.
      out.push_back(kBase62[b % 62]);
      if (static_cast<int>(out.size()) == length) break;
    }
  }
  return out;
}

}  // namespace tokenauth
