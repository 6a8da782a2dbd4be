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

// The table, from the per-layer times of tools/bench_conv_layers on the project's CPU machine at
// batch 32, 96 and 64 px (docs/benchmarks.md). Winograd F(2x2, 3x3) does 16 multiplications per
// 2x2 tile and channel pair where im2col does 36, F(4x4, 3x3) 36 per 4x4 tile (4x fewer); both
// pay in transforms, F(4x4) more per tile, and both transform all O x C filters on every call,
// which the tiles must amortise. With side = min(Ho, Wo) and both channel counts at least 16:
//   forward  F(4x4) from side 12 (1.2 to 1.5x faster than F(2x2) there); below, where the few
//            tiles cannot pay for 36 transformed values per filter pair (512 -> 512 at 8 x 8:
//            26 ms either way, at 4 x 4: 15 against 10), F(2x2);
//   dx       the same;
//   dw       F(4x4) from side 16; below, F(2x2) from 256 input channels at side 6 or more (its
//            products reduce over tiles, into a (16, O, C) sum per thread, and transforming x and
//            dy into panels transposed for that reduction costs more than it saves until the
//            channel products dominate), else the fused packing (SimpleCNN's 128 -> 256 at
//            12 x 12, VGG16's block 5 at 4 x 4).
// Layers with fewer than 16 input channels (the first ones, 1 or 3) stay with im2col: the
// reference where each column is 27 long (RGB), the fused packing where it is 9 (grey), as
// measured. The rest takes the fused packing, never slower than the reference there.
ConvChoice choose_conv_algorithms(const Conv2dShape& s) {
  const bool winograd =
      conv_algorithm_applies(ConvAlgorithm::winograd, s) && s.C >= 16 && s.O >= 16;
  if (s.C < 16) {
    const ConvAlgorithm first =
        s.C * s.kH * s.kW <= 16 ? ConvAlgorithm::im2col_packed : ConvAlgorithm::im2col;
    return {first, first, first};
  }
  const ConvAlgorithm packed = ConvAlgorithm::im2col_packed, f2 = ConvAlgorithm::winograd,
                      f4 = ConvAlgorithm::winograd4x4;
  if (!winograd) return {packed, packed, packed};
  const int64_t side = std::min(s.Ho, s.Wo);
  const ConvAlgorithm forward = side >= 12 ? f4 : f2;
  const ConvAlgorithm data = side >= 12 ? f4 : s.C >= 256 ? f2 : packed;
  const ConvAlgorithm filter = side >= 16 ? f4 : s.C >= 256 && side >= 6 ? f2 : packed;
  return {forward, data, filter};
}

namespace {
// In BF16 mode (kernels/common/precision.h) Winograd gives way to the fused im2col packing, whose
// products are plain GEMMs that round their operands to bf16. Winograd would round the
// *transformed* tiles (B^T d B, G g G^T, sums of up to 16 inputs with coefficients up to 1), and
// its inverse transform adds up to 16 such products with cancellation: the error would be
// relative to the transformed magnitudes, not bounded by (2u + u^2) sum |w||x| as a GEMM's is
// (docs/bf16.md), and it would grow with bf16's 2^-8 where FP32's 2^-24 hides it. A forced
// Winograd is honoured only in FP32 mode for the same reason.
ConvAlgorithm resolve(ConvAlgorithm forced, ConvAlgorithm chosen, const Conv2dShape& s) {
  if (forced == ConvAlgorithm::automatic) {
    if (bf16_gemms() && is_winograd(chosen)) return ConvAlgorithm::im2col_packed;
    return chosen;
  }
  BUSI_CHECK(conv_algorithm_applies(forced, s), "conv2d: algorithm ", conv_algorithm_name(forced),
             " needs a 3x3 kernel, stride 1 and padding <= 2 (got ", s.kH, "x", s.kW, ", stride ",
             s.stride, ", padding ", s.pad, ")");
  if (bf16_gemms() && is_winograd(forced)) return ConvAlgorithm::im2col_packed;
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
