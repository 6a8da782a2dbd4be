// Seeded random numbers for the whole engine: one Philox stream per Generator, so that a seed
// reproduces initial weights, dropout masks, shuffles and augmentations on every machine
// (no dependence on std:: distributions, whose output differs between standard libraries).
#pragma once

#include <cstdint>
#include <vector>

namespace busi {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}

  void manual_seed(uint64_t seed) {
    seed_ = seed;
    counter_ = 0;
    lane_ = 4;
  }
  uint64_t seed() const { return seed_; }

  // The number of values consumed so far: with the seed, the whole state of the stream (saved
  // in checkpoints so that a resumed run continues exactly where it stopped).
  uint64_t offset() const { return lane_ == 4 ? counter_ * 4 : (counter_ - 1) * 4 + lane_; }
  void set_offset(uint64_t values);

  uint32_t next_u32();
  double uniform();  // [0, 1), 53-bit resolution
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double normal();                              // N(0, 1), Box-Muller
  int64_t randint(int64_t n);                   // uniform in [0, n), unbiased
  std::vector<int64_t> permutation(int64_t n);  // Fisher-Yates shuffle of 0..n-1

  // Reserves ceil(n/4) Philox blocks and returns the first block's counter: value i of the
  // reservation is philox_u32(seed(), counter, i), on the CPU or on a GPU alike (dropout).
  uint64_t reserve(uint64_t n_values);

 private:
  uint64_t seed_;
  uint64_t counter_ = 0;  // next unused Philox block
  uint32_t block_[4] = {0, 0, 0, 0};
  int lane_ = 4;  // next unused value of block_ (4 = none left)
};

// The generator used when an op or initialiser is not given one explicitly.
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace busi
