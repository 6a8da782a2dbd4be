// The bf16 GEMM on the FP32 blocked driver (gemm_blocked.h): any float packer of that driver
// (matrix, prepacked, im2col fused into the packing) is wrapped so that its (kc, W) float panel
// is rewritten as bf16 pairs, the layout vdpbf16ps reads:
//   panel (ceil(kc / 2), W) of 32-bit words, word (t, r) = bf16(v[2t][r]) | bf16(v[2t+1][r]) << 16
// (v[kc][r] = 0 when kc is odd). The words fit in the driver's float buffers (ceil(kc/2) <= kc),
// so the driver, its blocking and its threads are reused unchanged; the micro-kernel reads them
// as pairs. gemm_blocked_in_mode runs the FP32 or the bf16 product as the precision switch says.
#pragma once

#include <type_traits>

#include "kernels/common/bf16.h"
#include "kernels/common/precision.h"
#include "kernels/cpu/gemm_blocked.h"

namespace busi::cpu {

// The bf16 micro-kernel for a float kernel's tile and blocking (same mr, nr, kc, nc, mc: the
// float packers were built for that tile): its `run` reads pair panels and writes float C.
MicroKernel<float> bf16_micro_kernel_for(const MicroKernel<float>& float_kernel);

// The AVX512-BF16 kernel (gemm_bf16_avx512.cpp), tile 8 x 48; only for a CPU that has it.
MicroKernel<float> avx512bf16_micro_kernel();

// A float packer whose panels come out as bf16 pairs (see the top of the file).
template <typename FloatPack>
struct Bf16PairPacker {
  FloatPack inner;
  int64_t width;  // MR or NR
  const float* operator()(int64_t first, int64_t k0, int64_t kc, float* dst) const {
    thread_local Scratch<float> scratch;
    const float* v = inner(first, k0, kc, scratch.get(kc * width));  // (kc, width)
    uint32_t* out = reinterpret_cast<uint32_t*>(dst);                // (ceil(kc / 2), width)
    for (int64_t t = 0; t < kc / 2; ++t) {
      const float* even = v + 2 * t * width;
      const float* odd = even + width;
      for (int64_t r = 0; r < width; ++r)
        out[t * width + r] = uint32_t{float_to_bf16(even[r])} | uint32_t{float_to_bf16(odd[r])}
                                                                    << 16;
    }
    if (kc % 2)
      for (int64_t r = 0; r < width; ++r)
        out[kc / 2 * width + r] = uint32_t{float_to_bf16(v[(kc - 1) * width + r])};
    return dst;
  }
};

// C (M, N) = alpha op(A) op(B) + beta C with the operands rounded to bf16 (the float packers'
// values), FP32 accumulation.
template <typename PackA, typename PackB>
void gemm_blocked_bf16(const MicroKernel<float>& float_kernel, int64_t M, int64_t N, int64_t K,
                       float alpha, const PackA& pack_a, const PackB& pack_b, float beta, float* C,
                       int64_t ldc) {
  const MicroKernel<float> mk = bf16_micro_kernel_for(float_kernel);
  gemm_blocked(mk, M, N, K, alpha, Bf16PairPacker<PackA>{pack_a, mk.mr},
               Bf16PairPacker<PackB>{pack_b, mk.nr}, beta, C, ldc);
}

// gemm_blocked in the precision the switch (kernels/common/precision.h) says: bf16 products for
// float in BF16 mode, the kernel's own type otherwise (double always exact FP64).
template <typename T, typename PackA, typename PackB>
void gemm_blocked_in_mode(const MicroKernel<T>& mk, int64_t M, int64_t N, int64_t K, T alpha,
                          const PackA& pack_a, const PackB& pack_b, T beta, T* C, int64_t ldc) {
  if constexpr (std::is_same_v<T, float>) {
    if (bf16_gemms()) return gemm_blocked_bf16(mk, M, N, K, alpha, pack_a, pack_b, beta, C, ldc);
  }
  gemm_blocked(mk, M, N, K, alpha, pack_a, pack_b, beta, C, ldc);
}

}  // namespace busi::cpu
