// Conversions to float32 from the other floating-point formats a safetensors file may hold:
// IEEE 754 half (F16), bfloat16 (BF16) and double (F64).
#pragma once

#include <cstdint>

namespace busi::weights {

// IEEE 754 binary16: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits. Every half value
// (subnormals, infinities, NaN) is exactly representable as a float.
float half_to_float(uint16_t bits);
// bfloat16 is the upper half of a float32: shifting it back is exact.
float bfloat16_to_float(uint16_t bits);
// The float nearest to a double (IEEE rounding; overflow becomes infinity).
float double_to_float(double value);

}  // namespace busi::weights
