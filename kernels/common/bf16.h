// bfloat16 (bf16): the top 16 bits of an IEEE float32 (1 sign, 8 exponent, 7 stored significand
// bits), kept as plain 16-bit storage; shared by the CPU and the CUDA kernels (BUSI_HOST_DEVICE).
//   bf16 -> float: exact (the 16 bits become the high half, the low half is 0);
//   float -> bf16: round to nearest, ties to even, on the 16 dropped bits. Same exponent range as
//   float, so overflow happens only past the largest bf16 (0x7F7F, about 3.39e38), which rounds
//   to inf like any IEEE rounding; subnormal floats round to bf16 subnormals (or 0) the same way.
//   NaN stays NaN (quiet bit forced: a NaN whose payload sits only in the low 16 bits would
//   otherwise truncate to inf).
// Unit roundoff u = 2^-8: a rounded value x' = x (1 + d), |d| <= u (docs/bf16.md).
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/common/host_device.h"

namespace busi {

using bf16_bits = uint16_t;

BUSI_HOST_DEVICE inline uint32_t float_bits(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
#endif
}

BUSI_HOST_DEVICE inline float float_from_bits(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
#endif
}

// Round to nearest even: add 0x7FFF plus the lowest kept bit, then drop the low 16 bits. A carry
// out of the significand bumps the exponent (correct rounding up to the next binade, and to inf
// past the largest finite value). NaN is a select, not an early return, so that a loop of these
// conversions vectorises (the bf16 GEMM's pair packing, gemm_bf16_blocked.h).
BUSI_HOST_DEVICE inline bf16_bits float_to_bf16(float x) {
  const uint32_t u = float_bits(x);
  const uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  const uint32_t quiet_nan = (u >> 16) | 0x0040u;
  return static_cast<bf16_bits>((u & 0x7FFFFFFFu) > 0x7F800000u ? quiet_nan : rounded);
}

BUSI_HOST_DEVICE inline float bf16_to_float(bf16_bits h) {
  return float_from_bits(static_cast<uint32_t>(h) << 16);
}

// x rounded to the nearest bf16, as a float: what a bf16 operand contributes to a product.
BUSI_HOST_DEVICE inline float round_to_bf16(float x) { return bf16_to_float(float_to_bf16(x)); }

}  // namespace busi
