// Generator: a Philox4x32-10 stream with uniform, normal, integer and permutation draws.
#include "engine/random.h"

#include <cmath>
#include <numbers>
#include <utility>

#include "kernels/common/philox.h"

namespace busi {

uint32_t Generator::next_u32() {
  if (lane_ == 4) {
    const PhiloxBlock b = philox4x32_10(counter_++, seed_);
    for (int i = 0; i < 4; ++i) block_[i] = b.v[i];
    lane_ = 0;
  }
  return block_[lane_++];
}

void Generator::set_offset(uint64_t values) {
  counter_ = values / 4;
  lane_ = 4;
  if (values % 4 != 0) {  // resume inside a block: regenerate it and skip the used values
    next_u32();
    lane_ = static_cast<int>(values % 4);
  }
}

double Generator::uniform() {
  // 53 random bits -> a double in [0, 1) with full mantissa resolution.
  const uint64_t hi = next_u32() >> 5, lo = next_u32() >> 6;  // 27 + 26 bits
  return static_cast<double>((hi << 26) | lo) * (1.0 / 9007199254740992.0);
}

double Generator::normal() {
  // Box-Muller: with u1, u2 uniform on (0, 1], sqrt(-2 ln u1) cos(2 pi u2) is N(0, 1).
  const double u1 = 1.0 - uniform();
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

int64_t Generator::randint(int64_t n) {
  if (n <= 1) return 0;
  // Rejection sampling on 64 bits: draws above the largest multiple of n are redrawn, so every
  // value in [0, n) is equally likely (plain modulo would favour small values).
  const uint64_t un = static_cast<uint64_t>(n);
  const uint64_t limit = UINT64_MAX - UINT64_MAX % un;
  uint64_t x;
  do {
    x = (static_cast<uint64_t>(next_u32()) << 32) | next_u32();
  } while (x >= limit);
  return static_cast<int64_t>(x % un);
}

std::vector<int64_t> Generator::permutation(int64_t n) {
  std::vector<int64_t> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[randint(i + 1)]);
  return p;
}

uint64_t Generator::reserve(uint64_t n_values) {
  const uint64_t first = counter_;
  counter_ += (n_values + 3) / 4;
  lane_ = 4;
  return first;
}

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace busi
