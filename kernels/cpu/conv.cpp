// The CPU convolution's entry points: which algorithm runs for a layer shape (a fixed table,
// measured on the project's CPU machine: docs/benchmarks.md), and the dispatch to it.
#include "kernels/cpu/conv.h"

#include <algorithm>
#include <tuple>

#include "kernels/common/error.h"
#include "kernels/common/precision.h"
#include "kernels/cpu/conv_algorithms.h"

namespace busi::cpu {

namespace {
bool is_winograd(ConvAlgorithm algorithm) {
  return algorithm == ConvAlgorithm::winograd || algorithm == ConvAlgorithm::winograd4x4;
}
}  // namespace

const char* conv_algorithm_name(ConvAlgorithm algorithm) {
  switch (algorithm) {
    case ConvAlgorithm::im2col:
      return "im2col";
    case ConvAlgorithm::im2col_packed:
      return "im2col_packed";
    case ConvAlgorithm::winograd:
      return "winograd";
    case ConvAlgorithm::winograd4x4:
      return "winograd4x4";
    case ConvAlgorithm::automatic:
      break;
  }
  return "automatic";
}

bool conv_algorithm_applies(ConvAlgorithm algorithm, const Conv2dShape& s) {
  if (!is_winograd(algorithm)) return true;
  return s.kH == 3 && s.kW == 3 && s.stride == 1 && s.pad <= 2;
}

namespace {

// The FP32 table, from the per-layer times of tools/bench_conv_layers on the project's CPU
// machine at batch 32, 96 and 64 px (docs/benchmarks.md). Winograd F(2x2, 3x3) does 16
// multiplications per 2x2 tile and channel pair where im2col does 36, F(4x4, 3x3) 36 per 4x4 tile
// (4x fewer); both pay in transforms, F(4x4) more per tile, and both transform all O x C filters
// on every call, which the tiles must amortise. With side = min(Ho, Wo):
//   forward  F(4x4) from side 12 (1.2 to 1.5x faster than F(2x2) there); below, where the few
//            tiles cannot pay for 36 transformed values per filter pair (512 -> 512 at 8 x 8:
//            26 ms either way, at 4 x 4: 15 against 10), F(2x2);
//   dx       the same;
//   dw       F(4x4) from side 16; below, F(2x2) from 256 input channels at side 6 or more (its
//            products reduce over tiles, into a (16, O, C) sum per thread, and transforming x and
//            dy into panels transposed for that reduction costs more than it saves until the
//            channel products dominate), else the fused packing (SimpleCNN's 128 -> 256 at
//            12 x 12, VGG16's block 5 at 4 x 4).
ConvChoice fp32_table(const Conv2dShape& s, int64_t side) {
  const ConvAlgorithm packed = ConvAlgorithm::im2col_packed, f2 = ConvAlgorithm::winograd,
                      f4 = ConvAlgorithm::winograd4x4;
  const ConvAlgorithm forward = side >= 12 ? f4 : f2;
  const ConvAlgorithm data = side >= 12 ? f4 : s.C >= 256 ? f2 : packed;
  const ConvAlgorithm filter = side >= 16 ? f4 : s.C >= 256 && side >= 6 ? f2 : packed;
  return {forward, data, filter};
}

// The BF16-mode table (bench_conv_layers --precision bf16 beside --precision fp32, 2-core EPYC,
// 2026-12-05: docs/benchmarks.md). bf16 products run at twice the FP32 FMA rate there, but
// Winograd in bf16 is F(2x2) only (F(4x4)'s coefficients amplify bf16's rounding 3 to 12x: the
// comment above resolve below), so where F(4x4)'s 4x fewer multiplications win, it runs in FP32,
// which is faster and more exact at once:
//   side >= 24 with side x C >= 3072  F(4x4) in FP32 for all three (VGG16's blocks 1 to 3: the
//            forward 1.1 to 1.4x faster than bf16 F(2x2), 1.8 to 2.2x than the bf16 packing);
//   else     bf16 products: the forward F(2x2) (VGG16's blocks 4 and 5: 1.2 to 1.6x faster than
//            the FP32 table's pick; SimpleCNN's layers: 1.0 to 1.2x); dx and dw the bf16 packing
//            (SimpleCNN: 1.1 to 1.6x faster than FP32 F(4x4)), except that F(2x2) wins dx from
//            256 input channels and dw from 512 at side 8 or more (VGG16's block 4: 43 against
//            52 ms at 96 px, 30 against 38 at 64; at 256 channels or side 6 and less the packing
//            is level or faster).
// Checked at 64 px too (VGG16's default input): the same picks win there.
ConvChoice bf16_table(const Conv2dShape& s, int64_t side) {
  const ConvAlgorithm packed = ConvAlgorithm::im2col_packed, f2 = ConvAlgorithm::winograd,
                      f4 = ConvAlgorithm::winograd4x4;
  if (side >= 24 && side * s.C >= 3072) return {f4, f4, f4};
  return {f2, s.C >= 256 ? f2 : packed, s.C >= 512 && side >= 8 ? f2 : packed};
}

}  // namespace

// Layers with fewer than 16 input channels (the first ones, 1 or 3) stay with im2col: the
// reference where each column is 27 long (RGB), the fused packing where it is 9 (grey), as
// measured. Layers Winograd cannot compute take the fused packing, never slower than the
// reference there. The rest follow the table of the precision mode.
ConvChoice choose_conv_algorithms(const Conv2dShape& s) {
  const bool winograd =
      conv_algorithm_applies(ConvAlgorithm::winograd, s) && s.C >= 16 && s.O >= 16;
  if (s.C < 16) {
    const ConvAlgorithm first =
        s.C * s.kH * s.kW <= 16 ? ConvAlgorithm::im2col_packed : ConvAlgorithm::im2col;
    return {first, first, first};
  }
  const ConvAlgorithm packed = ConvAlgorithm::im2col_packed;
  if (!winograd) return {packed, packed, packed};
  const int64_t side = std::min(s.Ho, s.Wo);
  return bf16_gemms() ? bf16_table(s, side) : fp32_table(s, side);
}

namespace {
// BF16 mode (kernels/common/precision.h): Winograd F(2x2, 3x3) rounds its *transformed* tiles to
// bf16 (U = G g G^T, V = B^T d B; products and sums FP32), so its error is bounded by
// (2u + u^2) |A^T| ( sum_c |U_c| (.) |V_c| ) |A| (u = 2^-8), relative to the transformed
// magnitudes rather than to sum |w||x| as a GEMM's is (docs/bf16.md). With B^T, A^T in
// {0, +-1} and G in {0, +-1/2, 1} that sum stays within a few times the direct one: on ReLU-like
// inputs the RMS error measured 1.3 to 1.9x that of bf16 im2col (tests/test_conv_winograd_bf16).
// F(4x4, 3x3)'s coefficients (5, 8, 1/24) make it 3 to 12x when rounded the same way, so F(4x4)
// never rounds: chosen or forced in BF16 mode, it runs in FP32 (conv_winograd.cpp).
ConvAlgorithm resolve(ConvAlgorithm forced, ConvAlgorithm chosen, const Conv2dShape& s) {
  if (forced == ConvAlgorithm::automatic) return chosen;
  BUSI_CHECK(conv_algorithm_applies(forced, s), "conv2d: algorithm ", conv_algorithm_name(forced),
             " needs a 3x3 kernel, stride 1 and padding <= 2 (got ", s.kH, "x", s.kW, ", stride ",
             s.stride, ", padding ", s.pad, ")");
  return forced;
}

// The Winograd tile side of a Winograd algorithm.
int64_t tile_of(ConvAlgorithm algorithm) { return algorithm == ConvAlgorithm::winograd4x4 ? 4 : 2; }
}  // namespace

template <typename T>
void conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* b, T* y,
                    ConvAlgorithm algorithm) {
  const ConvAlgorithm chosen = resolve(algorithm, choose_conv_algorithms(s).forward, s);
  switch (chosen) {
    case ConvAlgorithm::winograd:
    case ConvAlgorithm::winograd4x4:
      return winograd_forward(s, x, w, b, y, tile_of(chosen));
    case ConvAlgorithm::im2col_packed:
      return im2col_packed_forward(s, x, w, b, y);
    default:
      return im2col_forward(s, x, w, b, y);
  }
}

template <typename T>
void conv2d_backward(const Conv2dShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db,
                     ConvAlgorithm algorithm) {
  if (db) conv_bias_gradient(s, dy, db);
  const ConvChoice choice = choose_conv_algorithms(s);
  const ConvAlgorithm data = resolve(algorithm, choice.backward_data, s);
  const ConvAlgorithm filter = resolve(algorithm, choice.backward_filter, s);
  if (data == filter && !is_winograd(data)) {  // one pass over the images for both
    if (data == ConvAlgorithm::im2col_packed) return im2col_packed_backward(s, x, w, dy, dx, dw);
    return im2col_backward(s, x, w, dy, dx, dw);
  }
  for (const auto& [wanted, which, is_data] :
       {std::tuple{dx, data, true}, std::tuple{dw, filter, false}}) {
    if (!wanted) continue;
    if (is_winograd(which)) {
      is_data ? winograd_backward_data(s, w, dy, dx, tile_of(which))
              : winograd_backward_filter(s, x, dy, dw, tile_of(which));
    } else if (which == ConvAlgorithm::im2col_packed) {
      im2col_packed_backward(s, x, w, dy, is_data ? dx : nullptr, is_data ? nullptr : dw);
    } else {
      im2col_backward(s, x, w, dy, is_data ? dx : nullptr, is_data ? nullptr : dw);
    }
  }
}

#define BUSI_INSTANTIATE(T)                                                                      \
  template void conv2d_forward<T>(const Conv2dShape&, const T*, const T*, const T*, T*,          \
                                  ConvAlgorithm);                                                \
  template void conv2d_backward<T>(const Conv2dShape&, const T*, const T*, const T*, T*, T*, T*, \
                                   ConvAlgorithm);
BUSI_INSTANTIATE(float)
BUSI_INSTANTIATE(double)
#undef BUSI_INSTANTIATE

}  // namespace busi::cpu
