// The bf16 GEMM on the FP32 blocked driver (gemm_blocked.h): any float packer of that driver
// (matrix, prepacked, im2col fused into the packing) is wrapped so that its (kc, W) float panel
// is rewritten as bf16 pairs, the layout vdpbf16ps reads:
//   panel (ceil(kc / 2), W) of 32-bit words, word (t, r) = bf16(v[2t][r]) | bf16(v[2t+1][r]) << 16
// (v[kc][r] = 0 when kc is odd). The words fit in the driver's float buffers (ceil(kc/2) <= kc),
// so the driver, its blocking and its threads are reused unchanged; the micro-kernel reads them
// as pairs. gemm_blocked_in_mode runs the FP32 or the bf16 product as the precision switch says.
#pragma once

#include <algorithm>
#include <type_traits>

#include "kernels/common/bf16.h"
#include "kernels/common/error.h"
#include "kernels/common/precision.h"
#include "kernels/cpu/gemm_blocked.h"
#include "kernels/cpu/host_allocator.h"

namespace busi::cpu {

// The bf16 micro-kernel for a float kernel's tile and blocking (same mr, nr, kc, nc, mc: the
// float packers were built for that tile): its `run` reads pair panels and writes float C.
MicroKernel<float> bf16_micro_kernel_for(const MicroKernel<float>& float_kernel);

// The AVX512-BF16 kernel (gemm_bf16_avx512.cpp), tile 8 x 48; only for a CPU that has it.
MicroKernel<float> avx512bf16_micro_kernel();

// Rows [0, kc) of a float panel v (kc, width) as pair words out (ceil(kc / 2), width), the layout
// at the top of the file. Both rows of a pair are read in one pass and every conversion is
// branch-free (float_to_bf16), so the inner loop vectorises (16 words per AVX-512 step).
inline void write_pair_panel(const float* v, int64_t kc, int64_t width, uint32_t* out) {
  for (int64_t t = 0; t < kc / 2; ++t) {
    const float* even = v + 2 * t * width;
    const float* odd = even + width;
    uint32_t* row = out + t * width;
#pragma omp simd
    for (int64_t r = 0; r < width; ++r)
      row[r] = uint32_t{float_to_bf16(even[r])} | uint32_t{float_to_bf16(odd[r])} << 16;
  }
  if (kc % 2) {
    const float* last = v + (kc - 1) * width;
    uint32_t* row = out + kc / 2 * width;
#pragma omp simd
    for (int64_t r = 0; r < width; ++r) row[r] = uint32_t{float_to_bf16(last[r])};
  }
}

// A float packer whose panels come out as bf16 pairs (see the top of the file).
template <typename FloatPack>
struct Bf16PairPacker {
  FloatPack inner;
  int64_t width;  // MR or NR
  const float* operator()(int64_t first, int64_t k0, int64_t kc, float* dst) const {
    thread_local Scratch<float> scratch;
    const float* v = inner(first, k0, kc, scratch.get(kc * width));  // (kc, width)
    write_pair_panel(v, kc, width, reinterpret_cast<uint32_t*>(dst));
    return dst;
  }
};

// Pair panels converted once, over their full depth, from an operand packed whole
// (PackedOperandA below): panel p is (ceil(depth / 2), width) words at base + p ceil(depth / 2)
// width, and a slice starting at k0 (even: the driver's slices start at multiples of its even kc)
// starts k0 / 2 word rows into it. The products read them as they are.
struct PrepackedPairs {
  const uint32_t* base;
  int64_t depth, width;
  const float* operator()(int64_t first, int64_t k0, int64_t, float*) const {
    const uint32_t* panel = base + (first / width) * ((depth + 1) / 2) * width + k0 / 2 * width;
    return reinterpret_cast<const float*>(panel);
  }
};

// `count` float panels (count, depth, mr), each of mr rows over the full depth, converted once to
// pair panels (count, ceil(depth / 2), mr) for PrepackedPairs (whose slices need an even kc).
inline void convert_panels_to_pairs(const MicroKernel<float>& mk, const float* panels,
                                    int64_t count, int64_t depth, uint32_t* pairs) {
  BUSI_CHECK(mk.kc % 2 == 0, "bf16 pair panels: the slices need an even kc, not ", mk.kc);
  const int64_t words = (depth + 1) / 2 * mk.mr;  // one panel's pairs
#pragma omp parallel for schedule(static) if (!omp_in_parallel() && \
                                              count * depth * mk.mr > (int64_t{1} << 16))
  for (int64_t p = 0; p < count; ++p)
    write_pair_panel(panels + p * depth * mk.mr, depth, mk.mr, pairs + p * words);
}

// Column r of a pair panel (ceil(kc / 2), width) from kc values v that run along the depth:
// word (t, r) = bf16(v[2t]) | bf16(v[2t+1]) << 16, the high half 0 past an odd kc. Where an
// operand's depth runs along memory, its two values of a pair sit side by side, and the panel is
// written straight from them, without the float panel and the second pass of Bf16PairPacker.
inline void write_pair_column(const float* v, int64_t kc, int64_t width, int64_t r, uint32_t* out) {
  for (int64_t t = 0; t < kc / 2; ++t)
    out[t * width + r] = uint32_t{float_to_bf16(v[2 * t])} | uint32_t{float_to_bf16(v[2 * t + 1])}
                                                                 << 16;
  if (kc % 2) out[kc / 2 * width + r] = uint32_t{float_to_bf16(v[kc - 1])};
}

// A whole pair panel (ceil(kc / 2), width) written column by column: columns [0, filled) from
// run(r), a pointer to column r's kc depth values, the columns past the operand's edge 0.
template <typename RunOf>
void write_pair_panel_by_columns(int64_t kc, int64_t width, int64_t filled, uint32_t* out,
                                 const RunOf& run) {
  for (int64_t r = 0; r < filled; ++r) write_pair_column(run(r), kc, width, r, out);
  for (int64_t t = 0; t < (kc + 1) / 2; ++t)
    for (int64_t r = filled; r < width; ++r) out[t * width + r] = 0;
}

// The pair panel of a stored matrix whose depth runs along memory, op(A) = A (row i is
// A[i lda + k]) or op(B) = B^T (column j is B[j ldb + k]), written column by column with
// write_pair_column; the other orientations go through Bf16PairPacker. The same words either way.
template <typename MatrixPack>
struct MatrixPairPacker {
  MatrixPack pack;
  int64_t width;
  const float* operator()(int64_t first, int64_t k0, int64_t kc, float* dst) const {
    const float* base;
    int64_t ld, extent;
    bool along_depth;
    if constexpr (std::is_same_v<MatrixPack, MatrixPackA<float>>)
      base = pack.A, ld = pack.lda, extent = pack.M, along_depth = !pack.trans;
    else
      base = pack.B, ld = pack.ldb, extent = pack.N, along_depth = pack.trans;
    if (!along_depth) return Bf16PairPacker<MatrixPack>{pack, width}(first, k0, kc, dst);
    write_pair_panel_by_columns(kc, width, std::min(width, extent - first),
                                reinterpret_cast<uint32_t*>(dst),
                                [&](int64_t r) { return base + (first + r) * ld + k0; });
    return dst;
  }
};

// The packer that hands the bf16 micro-kernel pair panels: a float packer is wrapped to convert
// its panels; a stored matrix's panel is converted from the matrix where it can be; panels
// already converted are passed through. (A caller's own packer can add an overload beside its
// type, found by argument-dependent lookup: conv_im2col_packed.cpp does.)
template <typename Pack>
Bf16PairPacker<Pack> pair_packer(const Pack& pack, int64_t width) {
  return {pack, width};
}
inline MatrixPairPacker<MatrixPackA<float>> pair_packer(const MatrixPackA<float>& pack,
                                                        int64_t width) {
  return {pack, width};
}
inline MatrixPairPacker<MatrixPackB<float>> pair_packer(const MatrixPackB<float>& pack,
                                                        int64_t width) {
  return {pack, width};
}
inline PrepackedPairs pair_packer(const PrepackedPairs& pairs, int64_t) { return pairs; }

// C (M, N) = alpha op(A) op(B) + beta C with the operands rounded to bf16 (the float packers'
// values, or pairs converted before), FP32 accumulation.
template <typename PackA, typename PackB>
void gemm_blocked_bf16(const MicroKernel<float>& float_kernel, int64_t M, int64_t N, int64_t K,
                       float alpha, const PackA& pack_a, const PackB& pack_b, float beta, float* C,
                       int64_t ldc) {
  const MicroKernel<float> mk = bf16_micro_kernel_for(float_kernel);
  gemm_blocked(mk, M, N, K, alpha, pair_packer(pack_a, mk.mr), pair_packer(pack_b, mk.nr), beta, C,
               ldc);
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

// An A operand op(A) (M, K) packed once for many products with different B (a convolution's
// weights, met by every image of the batch): float panels of mr rows over the full depth
// (pack_a_whole), and in BF16 mode those panels converted to bf16 pairs once, here, instead of
// in every product (per image and per thread). times() multiplies in the precision the switch
// said when the operand was packed. Both buffers come from the host cache (host_allocator.h).
template <typename T>
class PackedOperandA {
 public:
  PackedOperandA(const MicroKernel<T>& mk, const T* A, int64_t lda, bool trans, int64_t M,
                 int64_t K)
      : mk_(mk), M_(M), K_(K) {
    const int64_t panels = (M + mk.mr - 1) / mk.mr;
    floats_.resize(panels * K * mk.mr);  // (panels, K, mr)
    pack_a_whole(A, lda, trans, M, K, mk.mr, floats_.data());
    if constexpr (std::is_same_v<T, float>) {
      if (!bf16_gemms()) return;
      pairs_.resize(panels * ((K + 1) / 2) * mk.mr);  // (panels, ceil(K / 2), mr)
      convert_panels_to_pairs(mk, floats_.data(), panels, K, pairs_.data());
      floats_.resize(0);  // only the pairs are read from now on
    }
  }

  // C (M, N) = alpha A op(B) + beta C, op(B) from pack_b (gemm_blocked.h's contract).
  template <typename PackB>
  void times(int64_t N, T alpha, const PackB& pack_b, T beta, T* C, int64_t ldc) const {
    if constexpr (std::is_same_v<T, float>) {
      if (!pairs_.empty())
        return gemm_blocked_bf16(mk_, M_, N, K_, alpha, PrepackedPairs{pairs_.data(), K_, mk_.mr},
                                 pack_b, beta, C, ldc);
    }
    gemm_blocked(mk_, M_, N, K_, alpha, Prepacked<T>{floats_.data(), K_, mk_.mr}, pack_b, beta, C,
                 ldc);
  }

 private:
  MicroKernel<T> mk_;
  int64_t M_, K_;
  HostBuffer<T> floats_;        // (panels, K, mr), FP32 products
  HostBuffer<uint32_t> pairs_;  // (panels, ceil(K / 2), mr) bf16 pairs, BF16 mode
};

}  // namespace busi::cpu
