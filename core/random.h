// Random: the source of secret randomness (token bodies, generated
// passwords). SodiumRandom draws from libsodium's CSPRNG. Implementations are
// thread-safe.
#ifndef TOKENAUTH_CORE_RANDOM_H_
#define TOKENAUTH_CORE_RANDOM_H_

#include <cstdint>
#include <string>

#include "absl/types/span.h"

namespace tokenauth {

class Random {
 public:
  virtual ~Random() = default;
  virtual void Fill(absl::Span<uint8_t> out) = 0;
};

class SodiumRandom : public Random {
 public:
  SodiumRandom();  // Initialises libsodium; aborts if it cannot.
  void Fill(absl::Span<uint8_t> out) override;
};

// `length` characters drawn uniformly from [0-9A-Za-z] (rejection sampling).
std::string RandomBase62(Random& random, int length);

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_RANDOM_H_
