// CPU matrix multiply in bf16 mixed precision: C = alpha op(A) op(B) + beta C with float
// operands rounded to bf16 (kernels/common/bf16.h) as they are packed, products and sums in FP32,
// C in FP32. The blocked driver and its packers are the FP32 GEMM's (gemm_blocked.h); only the
// packed panels (bf16 pairs) and the micro-kernel differ (gemm_bf16_blocked.h). Two kernels with
// the same numerics: AVX512-BF16 (vdpbf16ps), chosen at run time where the CPU has it, and a
// portable one (round, then FP32 multiply-add in the same order) that the fast one is tested
// against and that runs on any CPU.
#pragma once

#include <cstdint>
#include <string>

namespace busi::cpu {

enum class Bf16Kernel { portable, avx512bf16 };

const char* bf16_kernel_name(Bf16Kernel kernel);

// Whether this CPU can run `kernel` (avx512bf16: AVX-512 F, BW and BF16); portable always can.
bool bf16_kernel_supported(Bf16Kernel kernel);

// The kernel the bf16 GEMMs use now: avx512bf16 where supported and the float GEMM's tile is its
// 8 x 48 (the AVX-512 float variant is active), otherwise portable. set_bf16_kernel forces one
// (tests); false, and nothing changed, when the CPU cannot run it. Not thread-safe.
Bf16Kernel active_bf16_kernel();
bool set_bf16_kernel(Bf16Kernel kernel);

// Why the CPU can or cannot run bf16 products natively, one line for logs and `--precision auto`.
std::string bf16_cpu_support();

// The bf16 GEMM (same contract as gemm<float> in gemm.h), whatever the precision switch says.
void gemm_bf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
               const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
               int64_t ldc);

// The triple loop of the same numbers (each operand rounded to bf16, FP32 sums in k order), the
// reference of the tests.
void gemm_bf16_naive(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                     const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                     int64_t ldc);

}  // namespace busi::cpu
