// Bit-level conversions of float_formats.h.
#include "weights/float_formats.h"

#include <bit>
#include <cmath>
#include <limits>

namespace busi::weights {

float half_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1Fu;
  uint32_t fraction = bits & 0x3FFu;
  uint32_t out = 0;
  if (exponent == 0x1F) {
    out = sign | 0x7F800000u | (fraction << 13);  // infinity, or NaN with its payload kept
  } else if (exponent != 0) {
    out = sign | ((exponent - 15 + 127) << 23) | (fraction << 13);  // normal: re-bias exponent
  } else if (fraction == 0) {
    out = sign;  // signed zero
  } else {
    // Subnormal half (0.fraction x 2^-14): shift the fraction until its leading 1 becomes the
    // implicit bit, lowering the exponent once per shift. The result is a normal float.
    int32_t e = -14;
    while ((fraction & 0x400u) == 0) {
      fraction <<= 1;
      --e;
    }
    fraction &= 0x3FFu;
    out = sign | (static_cast<uint32_t>(e + 127) << 23) | (fraction << 13);
  }
  return std::bit_cast<float>(out);
}

float bfloat16_to_float(uint16_t bits) {
  return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

float double_to_float(double value) {
  // Converting a double beyond float's range is undefined behaviour in C++ ([conv.double]), so
  // do IEEE rounding by hand there: values from FLT_MAX + half an ulp (2^103) up become infinity.
  const double max = std::numeric_limits<float>::max();
  const double limit = max + std::ldexp(1.0, 103);
  if (value >= limit) return std::numeric_limits<float>::infinity();
  if (value <= -limit) return -std::numeric_limits<float>::infinity();
  if (value > max) return std::numeric_limits<float>::max();
  if (value < -max) return -std::numeric_limits<float>::max();
  return static_cast<float>(value);  // in range (or NaN): the standard conversion rounds
}

}  // namespace busi::weights
