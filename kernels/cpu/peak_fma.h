// The FP32 multiply-add peak of this CPU, measured: the reference the GEMM's speed is reported
// against (tools/bench_cpu). Independent chains of FMAs on registers only, so nothing but the
// FMA units' throughput limits the loop.
#pragma once

#include <cstdint>

namespace busi::cpu {

// Vector width of the measured FMAs: 512 bits (AVX-512 F) or 256 bits (AVX2 + FMA).
enum class FmaWidth { bits256, bits512 };

// GFLOP/s (2 FLOPs per multiply-add) of `threads` threads each running the loop for about
// `seconds`; 0 when the CPU lacks the instructions.
double measure_peak_fma(FmaWidth width, int threads, double seconds = 0.2);

// The same for AVX512-BF16's vdpbf16ps (16 lanes, each adding two bf16 x bf16 products into an
// FP32 accumulator: 64 FLOPs an instruction, twice an FP32 FMA's), the ceiling of the bf16 GEMM
// (gemm_bf16_avx512.cpp); 0 when the CPU lacks it.
double measure_peak_dpbf16(int threads, double seconds = 0.2);

}  // namespace busi::cpu
