// bf16, the number format (kernels/common/bf16.h): rounding to nearest even, overflow, subnormals,
// NaN, the exact way back; and the precision switch (engine/precision.h).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "engine/precision.h"
#include "engine/random.h"
#include "kernels/common/bf16.h"

using namespace busi;

namespace {
float from_bits(uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}
}  // namespace

TEST_CASE("float -> bf16 rounds to nearest, ties to even") {
  CHECK(float_to_bf16(1.0f) == 0x3F80);
  CHECK(float_to_bf16(-1.5f) == 0xBFC0);
  CHECK(float_to_bf16(from_bits(0x3F808000)) == 0x3F80);  // halfway, 0x3F80 is even: down
  CHECK(float_to_bf16(from_bits(0x3F818000)) == 0x3F82);  // halfway, 0x3F81 is odd: up
  CHECK(float_to_bf16(from_bits(0x3F808001)) == 0x3F81);  // just above halfway: up
  CHECK(float_to_bf16(from_bits(0x3F807FFF)) == 0x3F80);  // just below halfway: down
  CHECK(float_to_bf16(from_bits(0x3FFFFFFF)) == 0x4000);  // carry into the exponent
  CHECK(float_to_bf16(from_bits(0xBF818000)) == 0xBF82);  // the sign does not matter
}

TEST_CASE("overflow to inf, infinities and NaN") {
  CHECK(float_to_bf16(std::numeric_limits<float>::max()) == 0x7F80);  // past the largest bf16
  CHECK(float_to_bf16(from_bits(0x7F7F7FFF)) == 0x7F7F);  // below halfway: the largest bf16
  CHECK(float_to_bf16(from_bits(0x7F7F8000)) == 0x7F80);  // tie, 0x7F7F odd: up, to inf
  CHECK(float_to_bf16(-std::numeric_limits<float>::max()) == 0xFF80);
  CHECK(float_to_bf16(std::numeric_limits<float>::infinity()) == 0x7F80);
  CHECK(float_to_bf16(-std::numeric_limits<float>::infinity()) == 0xFF80);
  CHECK(std::isnan(bf16_to_float(float_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  // A NaN whose payload is only in the dropped bits must not become inf.
  CHECK(std::isnan(bf16_to_float(float_to_bf16(from_bits(0x7F800001)))));
  CHECK(std::isnan(bf16_to_float(float_to_bf16(from_bits(0xFF800001)))));
}

TEST_CASE("subnormals round like any other value") {
  CHECK(float_to_bf16(from_bits(0x00008000)) == 0x0000);  // half the smallest bf16: tie to 0
  CHECK(float_to_bf16(from_bits(0x00018000)) == 0x0002);  // tie, 0x0001 odd: up
  CHECK(float_to_bf16(from_bits(0x00008001)) == 0x0001);  // above half: the smallest bf16
  CHECK(float_to_bf16(from_bits(0x007FFFFF)) == 0x0080);  // largest subnormal: up to FLT_MIN
  CHECK(bf16_to_float(0x0001) == from_bits(0x00010000));
  CHECK(float_to_bf16(-0.0f) == 0x8000);
}

TEST_CASE("bf16 -> float -> bf16 is the identity on every non-NaN value") {
  int checked = 0;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float x = bf16_to_float(static_cast<bf16_bits>(h));
    if (std::isnan(x)) continue;
    REQUIRE(float_to_bf16(x) == h);
    ++checked;
  }
  CHECK(checked == 65536 - 2 * 127);  // 2 x (2^7 - 1) NaN patterns
}

TEST_CASE("relative rounding error is at most u = 2^-8, and reaches close to it") {
  Generator gen(11);
  double worst = 0.0;
  for (int i = 0; i < 100000; ++i) {
    const float x = static_cast<float>(gen.uniform(-1.0, 1.0) * std::exp2(gen.uniform(-60, 60)));
    if (x == 0.0f) continue;
    const double rel = std::abs(double(round_to_bf16(x)) - double(x)) / std::abs(double(x));
    worst = std::max(worst, rel);
  }
  MESSAGE("worst relative rounding error " << worst << " (u = " << std::exp2(-8) << ")");
  CHECK(worst <= std::exp2(-8));
  CHECK(worst > 0.9 * std::exp2(-8));  // a truncation to 7 bits would need 2u; 9 bits u / 2
}

TEST_CASE("the precision switch: scoped, and --precision parsed with a reason") {
  CHECK(precision() == Precision::FP32);  // the default
  {
    ScopedPrecision bf16(Precision::BF16);
    CHECK(precision() == Precision::BF16);
    CHECK(bf16_gemms());
  }
  CHECK(precision() == Precision::FP32);
  CHECK(resolve_precision("fp32", Device::cpu()).precision == Precision::FP32);
  CHECK(resolve_precision("bf16", Device::cpu()).precision == Precision::BF16);
  const PrecisionChoice automatic = resolve_precision("auto", Device::cpu());
  const bool native = bf16_support(Device::cpu()).bf16_native;
  // auto takes bf16 only where the CPU has the instruction and it outruns FP32 FMAs.
  const bool faster = native && cpu_bf16_speed().faster;
  CHECK(automatic.precision == (faster ? Precision::BF16 : Precision::FP32));
  CHECK(automatic.reason.find(native ? "has AVX512-BF16" : "lacks AVX512-BF16") !=
        std::string::npos);
  if (native) {
    CHECK(cpu_bf16_speed().ratio > 0.0);
    CHECK(automatic.reason.find("FP32 FMA rate") != std::string::npos);
  }
  MESSAGE(precision_description(automatic));
  CHECK_THROWS(resolve_precision("fp16", Device::cpu()));
}
