// derive_seed: one seed for each independent random stream of the data pipeline (split, shuffle
// of epoch e, augmentation of position p of epoch e), all derived from the user's single seed.
#pragma once

#include <cstdint>
#include <initializer_list>

namespace busi::data {

// Labels that keep the streams apart: two uses of the same (seed, numbers) never collide.
enum class SeedStream : uint64_t {
  Split = 1,
  KFold = 2,
  KFoldValidation = 3,
  Order = 4,
  Augment = 5
};

// Mixes the seed, the stream label and any numbers (epoch, position, fold) into one 64-bit key
// for busi::Generator. Each step is the SplitMix64 finaliser, a bijection that spreads every
// input bit over the whole word, so (seed 1, epoch 0) and (seed 0, epoch 1) give unrelated keys.
inline uint64_t derive_seed(uint64_t seed, SeedStream stream,
                            std::initializer_list<uint64_t> numbers = {}) {
  auto mix = [](uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  uint64_t key = mix(seed + 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(stream));
  for (uint64_t n : numbers) key = mix(key ^ (n + 0x9e3779b97f4a7c15ULL));
  return key;
}

}  // namespace busi::data
