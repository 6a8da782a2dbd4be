// The register micro-kernels of the blocked GEMM (gemm.cpp) and their packed operand layouts.
// One kernel computes an MR x NR tile of C from a packed A panel and a packed B panel:
//   acc (MR, NR) = sum over k < kc of a_panel[k][:] (outer product) b_panel[k][:]
//   C_tile = alpha * acc            (accumulate = false: C is not read, stale NaNs vanish)
//   C_tile = C_tile + alpha * acc   (accumulate = true)
// only the top-left rows x cols of the tile are stored (the edges of C).
//
// Packed layouts (zero-padded past the matrix edge, so kernels never branch on it):
//   A: panel p of MR rows holds, for each k, the MR values A[p MR + r][k]: (kc, MR) per panel
//   B: panel p of NR columns holds, for each k, the NR values B[k][p NR + c]: (kc, NR) per panel
// Variants: a portable one for any scalar type (the reference the others are tested against),
// and float kernels for AVX2 + FMA and AVX-512, compiled with function attributes and chosen at
// run time (cpu_kernels.h).
#pragma once

#include <cstdint>

#include "kernels/cpu/cpu_kernels.h"

namespace busi::cpu {

template <typename T>
struct MicroKernel {
  using Fn = void (*)(int64_t kc, const T* a_panel, const T* b_panel, T* c, int64_t ldc,
                      int64_t rows, int64_t cols, T alpha, bool accumulate);
  Fn run;
  int64_t mr, nr;  // the tile
  int64_t kc;      // depth of a packed slice: an A panel and a B panel stay in L1
  int64_t nc;      // columns of a packed B block (stays in L2)
  int64_t mc;      // rows of packed A that one B panel meets before the next (stays in L2)
  const char* name;
};

// The portable kernel for T (6 x 16, written as plain loops the compiler vectorises).
template <typename T>
MicroKernel<T> portable_micro_kernel();

// The float kernel of a variant; one whose CPU support is missing must not be run.
MicroKernel<float> avx2_micro_kernel();
MicroKernel<float> avx512_micro_kernel();

// The kernel the GEMM uses for T now: for float the active variant (cpu_kernels.h), for double
// always the portable one.
template <typename T>
MicroKernel<T> micro_kernel_for();

}  // namespace busi::cpu
