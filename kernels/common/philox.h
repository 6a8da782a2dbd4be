// Philox4x32-10, a counter-based random number generator (Salmon et al., "Parallel random
// numbers: as easy as 1, 2, 3", SC 2011). Random value i of a stream is a pure function of
// (key, counter): CPU and CUDA code compute identical numbers (dropout masks, initialisers)
// without any state arrays, and any element can be computed independently of the others.
#pragma once

#include <cstdint>

#include "kernels/common/host_device.h"

namespace busi {

struct PhiloxBlock {
  uint32_t v[4];
};

// Ten rounds of the Philox bijection on the 128-bit counter (c0..c3) with the 64-bit key (k0, k1).
// Each round: two 32x32->64-bit multiplies, their high halves xor-ed with the other counter
// words and the key, then the key is bumped by the Weyl constants.
BUSI_HOST_DEVICE inline PhiloxBlock philox4x32_10(uint64_t counter, uint64_t key) {
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32);
  uint32_t c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;  // round multipliers
  const uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;  // key schedule (golden ratio, sqrt(3)-1)
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(M0) * c0;
    const uint64_t p1 = static_cast<uint64_t>(M1) * c2;
    const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += W0;
    k1 += W1;
  }
  return {{c0, c1, c2, c3}};
}

// Value `index` of the stream that starts at block `base_counter`: four values per block.
BUSI_HOST_DEVICE inline uint32_t philox_u32(uint64_t key, uint64_t base_counter, uint64_t index) {
  const PhiloxBlock b = philox4x32_10(base_counter + index / 4, key);
  return b.v[index % 4];
}

// Uniform float in [0, 1) from the top 24 bits (exactly representable in float32).
BUSI_HOST_DEVICE inline float u32_to_unit_float(uint32_t x) {
  return static_cast<float>(x >> 8) * (1.0f / 16777216.0f);
}

}  // namespace busi
