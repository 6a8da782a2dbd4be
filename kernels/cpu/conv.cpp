// The CPU convolution's entry points: which algorithm runs for a layer shape (a fixed table,
// measured on the project's CPU machine: docs/benchmarks.md), and the dispatch to it.
#include "kernels/cpu/conv.h"

#include <tuple>

#include "kernels/common/error.h"
#include "kernels/common/precision.h"
#include "kernels/cpu/conv_algorithms.h"

namespace busi::cpu {

const char* conv_algorithm_name(ConvAlgorithm algorithm) {
  switch (algorithm) {
    case ConvAlgorithm::im2col:
      return "im2col";
    case ConvAlgorithm::im2col_packed:
      return "im2col_packed";
    case ConvAlgorithm::winograd:
      return "winograd";
    case ConvAlgorithm::automatic:
      break;
  }
  return "automatic";
}

bool conv_algorithm_applies(ConvAlgorithm algorithm, const Conv2dShape& s) {
  if (algorithm != ConvAlgorithm::winograd) return true;
  return s.kH == 3 && s.kW == 3 && s.stride == 1 && s.pad <= 2;
}

// The table, from the per-layer times of tools/bench_conv_layers on the project's CPU machine at
// batch 32 (docs/benchmarks.md). Winograd F(2x2, 3x3) does 16 multiplications per 2x2 tile and
// channel pair where im2col does 36, but its transforms read and write 16 values per tile and
// channel; it wins once both channel counts reach 16:
//   forward  always then;
//   dx       when the image is at least 24 x 24 or the channels at least 256 (below both, as
//            SimpleCNN's 128 -> 256 at 12 x 12, the transforms of 256 output-gradient channels
//            over few tiles cost more than they save);
//   dw       from 256 input channels: its products reduce over tiles, into a (16, O, C) sum per
//            thread, and the transform of both x and dy into panels transposed for that
//            reduction costs more than the saving until the channel products dominate.
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
  const ConvAlgorithm packed = ConvAlgorithm::im2col_packed, wino = ConvAlgorithm::winograd;
  return {winograd ? wino : packed,
          winograd && (s.Ho * s.Wo >= 24 * 24 || s.C >= 256) ? wino : packed,
          winograd && s.C >= 256 ? wino : packed};
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
    if (bf16_gemms() && chosen == ConvAlgorithm::winograd) return ConvAlgorithm::im2col_packed;
    return chosen;
  }
  BUSI_CHECK(conv_algorithm_applies(forced, s), "conv2d: algorithm ", conv_algorithm_name(forced),
             " needs a 3x3 kernel, stride 1 and padding <= 2 (got ", s.kH, "x", s.kW, ", stride ",
             s.stride, ", padding ", s.pad, ")");
  if (bf16_gemms() && forced == ConvAlgorithm::winograd) return ConvAlgorithm::im2col_packed;
  return forced;
}
}  // namespace

template <typename T>
void conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* b, T* y,
                    ConvAlgorithm algorithm) {
  switch (resolve(algorithm, choose_conv_algorithms(s).forward, s)) {
    case ConvAlgorithm::winograd:
      return winograd_forward(s, x, w, b, y);
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
  if (data == filter && data != ConvAlgorithm::winograd) {  // one pass over the images for both
    if (data == ConvAlgorithm::im2col_packed) return im2col_packed_backward(s, x, w, dy, dx, dw);
    return im2col_backward(s, x, w, dy, dx, dw);
  }
  for (const auto& [wanted, which, is_data] :
       {std::tuple{dx, data, true}, std::tuple{dw, filter, false}}) {
    if (!wanted) continue;
    if (which == ConvAlgorithm::winograd) {
      is_data ? winograd_backward_data(s, w, dy, dx) : winograd_backward_filter(s, x, dy, dw);
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
