// Winograd F(m x m, 3x3) convolution for 3x3 stride-1 layers, m = 2 or 4: the forward, the input
// gradient and the weight gradient (the transforms: conv_winograd_transforms.h for F(2x2, 3x3),
// conv_winograd_f4x4_transforms.h for F(4x4, 3x3)). The output is cut into m x m tiles,
// t = (n, ti, tj); each tile reads the a x a input patch (a = m + 2) at rows m ti - pad + [0, a)
// and columns m tj - pad + [0, a) (0 in the padding and past the image). For each of the a^2
// transformed positions k the channel sums become one matrix product:
//   forward   M_k (O, T) = U_k (O, C) V_k (C, T)          U = G g G^T, V = B^T d B, y = A^T M A
//   dw        dU_k (O, C) = E_k (O, T) V_k (C, T)^T        E = A dY A^T,  dw = G^T dU G
//   dx        the forward on dy with w'[c, o, p, q] = w[o, c, 2 - p, 2 - q] and padding 2 - pad
// The transforms write straight into the GEMM's packed panels (gemm_microkernel.h), so the
// products read them as they are. Threads take blocks of tiles (of all images together), so a
// single large image parallelises as well as a batch; each block's a^2 products run on its thread.
// In BF16 mode F(2x2, 3x3)'s products round U and V (and E) to bf16 pairs, FP32 sums (docs/bf16.md
// gives the bound); F(4x4, 3x3) stays FP32 in every mode.
//
// Rounding of F(2x2, 3x3) (F(4x4, 3x3)'s: conv_winograd_f4x4_transforms.h). In exact arithmetic
// the result is the direct sum. In floating point (unit roundoff u, 2^-24 for float), each step adds relative errors of a few u to quantities whose sizes are
// bounded by the transforms' absolute values: with |X| the element-wise absolute value,
//   |y_computed - y| <= (C + 12) u  sum_c  |A^T| ( (|G| |g_c| |G^T|) (.) (|B^T| |d_c| |B|) ) |A|
// to first order: V's entries are sums of 4 inputs (2 roundings), U's of 9 filter taps with the
// halvings exact (4 roundings), the product over C channels adds C, the output transform sums 9
// products (4 roundings). Every row of |B^T|, |A^T| has at most 3 ones and |G| <= 1, so the
// right-hand side is at most 9 (C + 12) u  sum_c |g_c|_1 |d_c|_1 (the 1-norms over the 3x3 filter
// and the 4x4 patch): the same order as the direct sum's bound C 9 u sum |w| |x|, with no growth
// in the tile size (F(4x4, 3x3) has coefficients up to 8 and loses about 3 more bits).
// tests/test_conv_algorithms.cpp checks the first bound element by element, in float against a
// double reference.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/conv_algorithms.h"
#include "kernels/cpu/conv_winograd_f4x4_transforms.h"
#include "kernels/cpu/conv_winograd_transforms.h"
#include "kernels/cpu/gemm_bf16_blocked.h"

namespace busi::cpu {

namespace {

// F below is winograd::F2x2 or winograd::F4x4: the tile side F::m, the patch side F::alpha and
// the transforms.

// The output's m x m tiles: tH x tW per image, numbered t = (n tH + ti) tW + tj.
struct TileGrid {
  int64_t tH, tW, per_image, total;
};
template <typename F>
TileGrid tiles_of(const Conv2dShape& s) {
  const int64_t tH = (s.Ho + F::m - 1) / F::m, tW = (s.Wo + F::m - 1) / F::m;
  return {tH, tW, tH * tW, s.N * tH * tW};
}

// Calls fn(offset, n, ti, tj, len) for each run of tiles of block [t0, t0 + tb) that lies in one
// tile row: tiles t0 + offset ... + len - 1 are tiles tj ... tj + len - 1 of row ti of image n.
template <typename Fn>
void for_each_run(const TileGrid& g, int64_t t0, int64_t tb, const Fn& fn) {
  for (int64_t t = t0; t < t0 + tb;) {
    const int64_t n = t / g.per_image, ti = (t % g.per_image) / g.tW, tj = t % g.tW;
    const int64_t len = std::min(g.tW - tj, t0 + tb - t);
    fn(t - t0, n, ti, tj, len);
    t += len;
  }
}

// d (a^2, ld): the a x a input patches of channel c of x (N, C, H, W) for the block's tiles, 0 in
// the padding. Each run is read row by row: patch column j of tile r is row column
// m (tj + r) - pad + j, taken from a zero-padded copy of the row where the run meets an edge.
// scratch: m tW + 2 values.
template <typename F, typename T>
void gather_patches(const Conv2dShape& s, const TileGrid& g, const T* x, int64_t c, int64_t t0,
                    int64_t tb, T* d, int64_t ld, T* scratch) {
  for_each_run(g, t0, tb, [&](int64_t at, int64_t n, int64_t ti, int64_t tj, int64_t len) {
    const T* x_c = x + (n * s.C + c) * s.H * s.W;                    // (H, W)
    const int64_t first = F::m * tj - s.pad, span = F::m * len + 2;  // the run's columns
    const int64_t lo = std::clamp<int64_t>(-first, 0, span);         // inside: [first+lo, first+hi)
    const int64_t hi = std::clamp<int64_t>(s.W - first, lo, span);
    for (int64_t i = 0; i < F::alpha; ++i) {
      const int64_t h = F::m * ti - s.pad + i;
      const T* src = scratch;  // (span): the row's columns first ... first + span - 1
      if (h < 0 || h >= s.H) {
        std::fill(scratch, scratch + span, T(0));
      } else if (lo == 0 && hi == span) {
        src = x_c + h * s.W + first;
      } else {
        const T* row = x_c + h * s.W;
        std::fill(scratch, scratch + lo, T(0));
        std::copy(row + first + lo, row + first + hi, scratch + lo);
        std::fill(scratch + hi, scratch + span, T(0));
      }
      for (int64_t j = 0; j < F::alpha; ++j) {
        T* out = d + (F::alpha * i + j) * ld + at;
        for (int64_t r = 0; r < len; ++r) out[r] = src[F::m * r + j];
      }
    }
  });
}

// g (m^2, ld): the m x m tiles of plane o of dy (N, O, Ho, Wo), row-major, 0 past the edge.
template <typename F, typename T>
void gather_output_tiles(const Conv2dShape& s, const TileGrid& g, const T* dy, int64_t o,
                         int64_t t0, int64_t tb, T* out, int64_t ld) {
  for_each_run(g, t0, tb, [&](int64_t at, int64_t n, int64_t ti, int64_t tj, int64_t len) {
    const T* plane = dy + (n * s.O + o) * s.Ho * s.Wo;  // (Ho, Wo)
    const int64_t columns = std::min(F::m * len, s.Wo - F::m * tj);
    for (int64_t i = 0; i < F::m; ++i) {
      const bool inside = F::m * ti + i < s.Ho;
      const T* row = plane + (F::m * ti + i) * s.Wo + F::m * tj;
      for (int64_t j = 0; j < F::m; ++j) {
        T* dst = out + (F::m * i + j) * ld + at;
        for (int64_t r = 0; r < len; ++r)
          dst[r] = inside && F::m * r + j < columns ? row[F::m * r + j] : T(0);
      }
    }
  });
}

// The inverse: writes y (m^2, ld) into plane o of y (N, O, Ho, Wo), the part inside the output.
template <typename F, typename T>
void scatter_output_tiles(const Conv2dShape& s, const TileGrid& g, const T* tiles, int64_t ld,
                          int64_t o, int64_t t0, int64_t tb, T* y) {
  for_each_run(g, t0, tb, [&](int64_t at, int64_t n, int64_t ti, int64_t tj, int64_t len) {
    T* plane = y + (n * s.O + o) * s.Ho * s.Wo;  // (Ho, Wo)
    const int64_t columns = std::min(F::m * len, s.Wo - F::m * tj);
    const int64_t whole = columns / F::m;  // tiles whose m columns are all inside
    for (int64_t i = 0; i < F::m && F::m * ti + i < s.Ho; ++i) {
      T* row = plane + (F::m * ti + i) * s.Wo + F::m * tj;
      const T* src = tiles + F::m * i * ld + at;  // column j of tile r: src[j * ld + r]
      for (int64_t r = 0; r < whole; ++r)         // the row written in order
        for (int64_t j = 0; j < F::m; ++j) row[F::m * r + j] = src[j * ld + r];
      for (int64_t v = whole * F::m; v < columns; ++v) row[v] = src[(v % F::m) * ld + whole];
    }
  });
}

// Tiles per block, a multiple of `unit` (the GEMM panel width): 4 to 8 panels, fewer only to
// leave at least two blocks per thread. The block's transformed data, a^2 (C + O) floats per
// tile, stays near the 1 MiB L2 for small layers; for wide ones it spills to L3 (blocks of one
// panel made the products memory-bound: each streamed all 16 transformed filters of F(2x2, 3x3)
// for 48 tiles only).
template <typename F>
int64_t tiles_per_block(const Conv2dShape& s, int64_t total_tiles, int64_t unit) {
  const int64_t threads = omp_get_max_threads();
  int64_t units = std::clamp<int64_t>(16 * 16384 / F::positions / (s.C + s.O) / unit, 4, 8);
  while (units > 1 && (total_tiles + units * unit - 1) / (units * unit) < 2 * threads) --units;
  return units * unit;
}

// Each thread's buffers, kept from call to call (page faults on fresh allocations cost more than
// the transforms); every element read is written first, or zeroed explicitly where it pads.
template <typename T>
struct Buffers {
  Scratch<T> U, V, M, E, patches, transformed, scratch, du, taps;
  Scratch<uint32_t> U_pairs;  // BF16 mode: U's panels as bf16 pairs
};
template <typename T>
Buffers<T>& thread_buffers() {
  thread_local Buffers<T> buffers;
  return buffers;
}

// Whether this tile's products round their operands to bf16: in BF16 mode, F(2x2, 3x3) only.
// F(4x4, 3x3)'s transforms (coefficients 5, 8, 1/24) would amplify bf16's rounding 3 to 12x
// (conv.cpp), so it stays FP32 in every mode.
template <typename F>
bool rounds_to_bf16() {
  return F::m == 2 && bf16_gemms();
}

// Whether the tiles are worth threads (a small layer runs on the calling thread).
bool parallel_tiles(const Conv2dShape& s) {
  return !omp_in_parallel() && s.N * s.O * s.C * s.Ho * s.Wo * 9 >= 16 * kConvParallelWork;
}

template <typename F, typename T>
void forward(const Conv2dShape& s, const T* x, const T* w, const T* b, T* y) {
  const MicroKernel<T> mk = micro_kernel_for<T>();
  const int64_t MR = mk.mr, NR = mk.nr;
  const TileGrid g = tiles_of<F>(s);
  // U: for each k, the (O, C) matrix as A panels over the full depth C: (a^2, o_panels, C, MR).
  const int64_t u_size = (s.O + MR - 1) / MR * s.C * MR;
  T* U = thread_buffers<T>().U.get(F::positions * u_size);  // (a^2, o_panels, C, MR)
  // One A panel at a time, its C x MR filters (c, o) one per vector lane: lane c MR + l is filter
  // (panel MR + l, c), at U's offset (panel C + c) MR + l. Rows past O get zero taps, so their
  // transforms are the panel's zero padding.
  const int64_t lanes = s.C * MR;
#pragma omp parallel for schedule(static) if (parallel_tiles(s))
  for (int64_t panel = 0; panel < (s.O + MR - 1) / MR; ++panel) {
    T* taps = thread_buffers<T>().taps.get(9 * lanes);  // (9, C, MR)
    for (int64_t l = 0; l < MR; ++l) {
      const int64_t o = panel * MR + l;
      for (int64_t c = 0; c < s.C; ++c)
        for (int64_t p = 0; p < 9; ++p)
          taps[p * lanes + c * MR + l] = o < s.O ? w[(o * s.C + c) * 9 + p] : T(0);
    }
    F::filter_transform_block(taps, lanes, U + panel * lanes, u_size, lanes);
  }
  // BF16 mode: the transformed filters rounded to bf16 pairs once here, not once per block of
  // tiles; the blocks' V panels are converted as the products pack them (gemm_bf16_blocked.h).
  // Products of bf16 pairs, FP32 sums.
  const uint32_t* U_pairs = nullptr;  // (a^2, o_panels, ceil(C / 2), MR)
  const int64_t pairs_size = (s.O + MR - 1) / MR * ((s.C + 1) / 2) * MR;
  if constexpr (std::is_same_v<T, float>) {
    if (rounds_to_bf16<F>()) {
      uint32_t* pairs = thread_buffers<T>().U_pairs.get(F::positions * pairs_size);
      convert_panels_to_pairs(mk, U, F::positions * ((s.O + MR - 1) / MR), s.C, pairs);
      U_pairs = pairs;
    }
  }
  const int64_t Tb = tiles_per_block<F>(s, g.total, NR);
  const int64_t blocks = (g.total + Tb - 1) / Tb;
  const int64_t v_size = Tb * s.C;  // per k: (Tb / NR, C, NR), B panels over the full depth C
#pragma omp parallel if (parallel_tiles(s))
  {
    Buffers<T>& mine = thread_buffers<T>();
    T* V = mine.V.get(F::positions * v_size);    // (a^2, Tb / NR, C, NR)
    T* M = mine.M.get(F::positions * s.O * Tb);  // (a^2, O, Tb)
    T* d = mine.patches.get(F::positions * Tb);  // (a^2, Tb): one channel's patches
    T* scratch = mine.scratch.get(F::m * g.tW + 2);
#pragma omp for schedule(static)
    for (int64_t block = 0; block < blocks; ++block) {
      const int64_t t0 = block * Tb, tb = std::min(Tb, g.total - t0);
      const int64_t padded = (tb + NR - 1) / NR * NR;  // columns past the last tile: 0
      for (int64_t c = 0; c < s.C; ++c) {
        gather_patches<F>(s, g, x, c, t0, tb, d, Tb, scratch);
        // Straight into the B panels, NR tiles a piece: position k of the piece's tiles is the
        // panel's row c (v_size apart from one k to the next); past the last tile, zeros.
        for (int64_t p0 = 0; p0 < padded; p0 += NR) {
          T* dst = V + ((p0 / NR) * s.C + c) * NR;
          const int64_t piece = std::min(NR, tb - p0);
          F::input_transform_block(d + p0, Tb, dst, v_size, piece);
          for (int64_t k = 0; k < F::positions; ++k)
            std::fill(dst + k * v_size + piece, dst + k * v_size + NR, T(0));
        }
      }
      for (int64_t k = 0; k < F::positions; ++k) {
        const Prepacked<T> v_k{V + k * v_size, s.C, NR};
        if constexpr (std::is_same_v<T, float>) {
          if (U_pairs) {
            gemm_blocked_bf16(mk, s.O, tb, s.C, 1.0f,
                              PrepackedPairs{U_pairs + k * pairs_size, s.C, MR}, v_k, 0.0f,
                              M + k * s.O * Tb, Tb);
            continue;
          }
        }
        gemm_blocked(mk, s.O, tb, s.C, T(1), Prepacked<T>{U + k * u_size, s.C, MR}, v_k, T(0),
                     M + k * s.O * Tb, Tb);
      }
      for (int64_t o = 0; o < s.O; ++o) {
        F::output_transform_block(M + o * Tb, s.O * Tb, d, Tb, tb, b ? b[o] : T(0));
        scatter_output_tiles<F>(s, g, d, Tb, o, t0, tb, y);
      }
    }
  }
}

template <typename F, typename T>
void backward_filter(const Conv2dShape& s, const T* x, const T* dy, T* dw) {
  const MicroKernel<T> mk = micro_kernel_for<T>();
  const int64_t MR = mk.mr, NR = mk.nr;
  const TileGrid g = tiles_of<F>(s);
  const int64_t Tb = tiles_per_block<F>(s, g.total, NR);
  const int64_t blocks = (g.total + Tb - 1) / Tb;
  const int64_t o_panels = (s.O + MR - 1) / MR, c_panels = (s.C + NR - 1) / NR;
  const int64_t e_size = o_panels * Tb * MR;  // per k: (o_panels, Tb, MR), A panels over depth Tb
  const int64_t v_size = c_panels * Tb * NR;  // per k: (c_panels, Tb, NR), B panels over depth Tb
  const int64_t du_size = F::positions * s.O * s.C;
  std::vector<T*> du_per_thread(omp_get_max_threads(), nullptr);  // each (a^2, O, C) or null
#pragma omp parallel if (parallel_tiles(s))
  {
    Buffers<T>& mine = thread_buffers<T>();
    T* E = mine.E.get(F::positions * e_size);        // (a^2, o_panels, Tb, MR)
    T* V = mine.V.get(F::positions * v_size);        // (a^2, c_panels, Tb, NR)
    T* d = mine.patches.get(F::positions * Tb);      // (a^2, Tb): one channel's patches or tiles
    T* v = mine.transformed.get(F::positions * Tb);  // (a^2, Tb): ... transformed
    T* scratch = mine.scratch.get(F::m * g.tW + 2);
    T*& du = du_per_thread[omp_get_thread_num()];
    // Rows past O and columns past C in the last panels: 0 (never written below).
    for (int64_t k = 0; k < F::positions; ++k)
      for (int64_t t = 0; t < Tb; ++t) {
        for (int64_t o = s.O; o < o_panels * MR; ++o)
          E[k * e_size + ((o / MR) * Tb + t) * MR + o % MR] = T(0);
        for (int64_t c = s.C; c < c_panels * NR; ++c)
          V[k * v_size + ((c / NR) * Tb + t) * NR + c % NR] = T(0);
      }
#pragma omp for schedule(static)
    for (int64_t block = 0; block < blocks; ++block) {
      if (!du) du = std::fill_n(mine.du.get(du_size), du_size, T(0)) - du_size;
      const int64_t t0 = block * Tb, tb = std::min(Tb, g.total - t0);
      // Panels over the tiles: column c of a B panel (row o of an A panel) is one channel, so
      // each channel's transformed tiles go in with a stride of NR (MR).
      for (int64_t c = 0; c < s.C; ++c) {
        gather_patches<F>(s, g, x, c, t0, tb, d, Tb, scratch);
        F::input_transform_block(d, Tb, v, Tb, tb);
        T* dst = V + ((c / NR) * Tb) * NR + c % NR;
        for (int64_t k = 0; k < F::positions; ++k)
          for (int64_t t = 0; t < tb; ++t) dst[k * v_size + t * NR] = v[k * Tb + t];
      }
      for (int64_t o = 0; o < s.O; ++o) {
        gather_output_tiles<F>(s, g, dy, o, t0, tb, d, Tb);
        F::output_gradient_transform_block(d, v, Tb, tb);
        T* dst = E + ((o / MR) * Tb) * MR + o % MR;
        for (int64_t k = 0; k < F::positions; ++k)
          for (int64_t t = 0; t < tb; ++t) dst[k * e_size + t * MR] = v[k * Tb + t];
      }
      // In BF16 mode (F(2x2)) both panels are rounded to bf16 pairs as the product packs them.
      for (int64_t k = 0; k < F::positions; ++k) {
        const Prepacked<T> e_k{E + k * e_size, Tb, MR}, v_k{V + k * v_size, Tb, NR};
        if constexpr (std::is_same_v<T, float>) {
          if (rounds_to_bf16<F>()) {
            gemm_blocked_bf16(mk, s.O, s.C, tb, 1.0f, e_k, v_k, 1.0f, du + k * s.O * s.C, s.C);
            continue;
          }
        }
        gemm_blocked(mk, s.O, s.C, tb, T(1), e_k, v_k, T(1), du + k * s.O * s.C, s.C);
      }
    }
  }
  // dw = G^T dU G, with dU (a^2, O, C) the threads' sums added in thread order.
#pragma omp parallel for schedule(static) if (du_size > kConvParallelWork)
  for (int64_t oc = 0; oc < s.O * s.C; ++oc) {
    T u[F::positions];
    for (int64_t k = 0; k < F::positions; ++k) {
      u[k] = T(0);
      for (const T* part : du_per_thread)
        if (part) u[k] += part[k * s.O * s.C + oc];
    }
    F::filter_gradient_transform(u, dw + oc * 9);
  }
}

}  // namespace

template <typename T>
void winograd_forward(const Conv2dShape& s, const T* x, const T* w, const T* b, T* y,
                      int64_t tile) {
  tile == 4 ? forward<winograd::F4x4>(s, x, w, b, y) : forward<winograd::F2x2>(s, x, w, b, y);
}

template <typename T>
void winograd_backward_data(const Conv2dShape& s, const T* w, const T* dy, T* dx, int64_t tile) {
  // dx[n,c,h,v] = sum_{o,p,q} w[o,c,p,q] dy[n,o,h+pad-p,v+pad-q]: a correlation of dy, padded by
  // 2 - pad, with w'[c,o,p',q'] = w[o,c,2-p',2-q'] (p' = 2 - p). Its output has H = Ho + 2 - 2 pad.
  const Conv2dShape t{s.N, s.O, s.Ho, s.Wo, s.C, 3, 3, 1, 2 - s.pad, s.H, s.W};
  std::vector<T> flipped(s.C * s.O * 9);  // (C, O, 3, 3)
  for (int64_t o = 0; o < s.O; ++o)
    for (int64_t c = 0; c < s.C; ++c)
      for (int64_t p = 0; p < 9; ++p) flipped[(c * s.O + o) * 9 + p] = w[(o * s.C + c) * 9 + 8 - p];
  winograd_forward(t, dy, flipped.data(), static_cast<const T*>(nullptr), dx, tile);
}

template <typename T>
void winograd_backward_filter(const Conv2dShape& s, const T* x, const T* dy, T* dw, int64_t tile) {
  tile == 4 ? backward_filter<winograd::F4x4>(s, x, dy, dw)
            : backward_filter<winograd::F2x2>(s, x, dy, dw);
}

#define BUSI_INSTANTIATE(T)                                                                     \
  template void winograd_forward<T>(const Conv2dShape&, const T*, const T*, const T*, T*,       \
                                    int64_t);                                                   \
  template void winograd_backward_data<T>(const Conv2dShape&, const T*, const T*, T*, int64_t); \
  template void winograd_backward_filter<T>(const Conv2dShape&, const T*, const T*, T*, int64_t);
BUSI_INSTANTIATE(float)
BUSI_INSTANTIATE(double)
#undef BUSI_INSTANTIATE

}  // namespace busi::cpu
