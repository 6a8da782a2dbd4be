// Winograd F(2x2, 3x3) convolution for 3x3 stride-1 layers: the forward, the input gradient and
// the weight gradient (the transforms are in conv_winograd_transforms.h). The output is cut
// into 2x2 tiles, t = (n, ti, tj); each tile reads the 4x4 input patch at rows 2 ti - pad + [0, 4)
// and columns 2 tj - pad + [0, 4) (0 in the padding and past the image). For each of the 16
// transformed positions k the channel sums become one matrix product:
//   forward   M_k (O, T) = U_k (O, C) V_k (C, T)          U = G g G^T, V = B^T d B, y = A^T M A
//   dw        dU_k (O, C) = E_k (O, T) V_k (C, T)^T        E = A dY A^T,  dw = G^T dU G
//   dx        the forward on dy with w'[c, o, p, q] = w[o, c, 2 - p, 2 - q] and padding 2 - pad
// The transforms write straight into the GEMM's packed panels (gemm_microkernel.h), so the
// products read them as they are. Threads take blocks of tiles (of all images together), so a
// single large image parallelises as well as a batch; each block's 16 products run on its thread.
//
// Rounding. In exact arithmetic the result is the direct sum. In floating point (unit roundoff
// u, 2^-24 for float), each step adds relative errors of a few u to quantities whose sizes are
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
#include "kernels/cpu/conv_winograd_transforms.h"
#include "kernels/cpu/gemm_blocked.h"

namespace busi::cpu {

namespace {

constexpr int64_t kPositions = 16;  // the 4x4 transformed positions k

// The output's 2x2 tiles: tH x tW per image, numbered t = (n tH + ti) tW + tj.
struct TileGrid {
  int64_t tH, tW, per_image, total;
};
TileGrid tiles_of(const Conv2dShape& s) {
  const int64_t tH = (s.Ho + 1) / 2, tW = (s.Wo + 1) / 2;
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

// Transforms channel c of a run of tiles of x (N, C, H, W) into out (16, len).
template <typename T>
void transform_input_run(const Conv2dShape& s, const T* x, int64_t n, int64_t c, int64_t ti,
                         int64_t tj, int64_t len, T* out, T* scratch) {
  const T* x_c = x + (n * s.C + c) * s.H * s.W;  // (H, W)
  const T* rows[4];
  for (int i = 0; i < 4; ++i) {
    const int64_t h = 2 * ti - s.pad + i;
    rows[i] = h >= 0 && h < s.H ? x_c + h * s.W : nullptr;
  }
  winograd::input_transform_run(rows, 2 * tj - s.pad, s.W, len, out, len, scratch);
}

// Tiles per block, a multiple of `unit` (the GEMM panel width): the block's transformed input
// and products, 16 (C + O) floats per tile, should stay near the 1 MiB L2; and there should be
// at least two blocks per thread to share.
int64_t tiles_per_block(const Conv2dShape& s, int64_t total_tiles, int64_t unit) {
  const int64_t threads = omp_get_max_threads();
  int64_t units = std::clamp<int64_t>(16384 / (s.C + s.O) / unit, 1, 8);
  while (units > 1 && (total_tiles + units * unit - 1) / (units * unit) < 2 * threads) --units;
  return units * unit;
}

// Packed panels that already exist: panel p (of `width` rows or columns) over full depth
// `depth`, the slice [k0, k0 + kc) starting k0 rows into it.
template <typename T>
struct Prepacked {
  const T* base;
  int64_t depth, width;
  const T* operator()(int64_t first, int64_t k0, int64_t, T*) const {
    return base + (first / width) * depth * width + k0 * width;
  }
};

// Whether the tiles are worth threads (a small layer runs on the calling thread).
bool parallel_tiles(const Conv2dShape& s) {
  return !omp_in_parallel() && s.N * s.O * s.C * s.Ho * s.Wo * 9 >= 16 * kConvParallelWork;
}

}  // namespace

template <typename T>
void winograd_forward(const Conv2dShape& s, const T* x, const T* w, const T* b, T* y) {
  const MicroKernel<T> mk = micro_kernel_for<T>();
  const int64_t MR = mk.mr, NR = mk.nr;
  const TileGrid g = tiles_of(s);
  // U: for each k, the (O, C) matrix as A panels over the full depth C: (16, o_panels, C, MR).
  const int64_t u_size = (s.O + MR - 1) / MR * s.C * MR;
  std::vector<T> U(kPositions * u_size, T(0));  // rows past O stay 0
#pragma omp parallel for schedule(static) if (parallel_tiles(s))
  for (int64_t oc = 0; oc < s.O * s.C; ++oc) {
    const int64_t o = oc / s.C, c = oc % s.C;
    winograd::filter_transform(w + oc * 9, U.data() + ((o / MR) * s.C + c) * MR + o % MR, u_size);
  }
  const int64_t Tb = tiles_per_block(s, g.total, NR);
  const int64_t blocks = (g.total + Tb - 1) / Tb;
  const int64_t v_size = Tb * s.C;  // per k: (Tb / NR, C, NR), B panels over the full depth C
#pragma omp parallel if (parallel_tiles(s))
  {
    std::vector<T> V(kPositions * v_size);    // (16, Tb / NR, C, NR)
    std::vector<T> M(kPositions * s.O * Tb);  // (16, O, Tb)
    std::vector<T> run(kPositions * g.tW);    // (16, len): one run's transformed values
    std::vector<T> scratch(18 * (g.tW + 1));
#pragma omp for schedule(static)
    for (int64_t block = 0; block < blocks; ++block) {
      const int64_t t0 = block * Tb, tb = std::min(Tb, g.total - t0);
      // Transformed input, tile by tile into the B panels; columns past the last tile are 0.
      for (int64_t c = 0; c < s.C; ++c) {
        for_each_run(g, t0, tb, [&](int64_t at, int64_t n, int64_t ti, int64_t tj, int64_t len) {
          transform_input_run(s, x, n, c, ti, tj, len, run.data(), scratch.data());
          for (int64_t k = 0; k < kPositions; ++k)
            for (int64_t r = 0, t = at; r < len; ++r, ++t)
              V[k * v_size + ((t / NR) * s.C + c) * NR + t % NR] = run[k * len + r];
        });
        for (int64_t t = tb; t < (tb + NR - 1) / NR * NR; ++t)
          for (int64_t k = 0; k < kPositions; ++k)
            V[k * v_size + ((t / NR) * s.C + c) * NR + t % NR] = T(0);
      }
      for (int64_t k = 0; k < kPositions; ++k)
        gemm_blocked(mk, s.O, tb, s.C, T(1), Prepacked<T>{U.data() + k * u_size, s.C, MR},
                     Prepacked<T>{V.data() + k * v_size, s.C, NR}, T(0), M.data() + k * s.O * Tb,
                     Tb);
      for (int64_t o = 0; o < s.O; ++o)
        for_each_run(g, t0, tb, [&](int64_t at, int64_t n, int64_t ti, int64_t tj, int64_t len) {
          T* plane = y + (n * s.O + o) * s.Ho * s.Wo;  // (Ho, Wo)
          T* y0 = plane + 2 * ti * s.Wo + 2 * tj;
          T* y1 = 2 * ti + 1 < s.Ho ? y0 + s.Wo : nullptr;
          winograd::output_transform_run(M.data() + o * Tb + at, s.O * Tb, len, b ? b[o] : T(0), y0,
                                         y1, std::min(2 * len, s.Wo - 2 * tj), scratch.data());
        });
    }
  }
}

template <typename T>
void winograd_backward_data(const Conv2dShape& s, const T* w, const T* dy, T* dx) {
  // dx[n,c,h,v] = sum_{o,p,q} w[o,c,p,q] dy[n,o,h+pad-p,v+pad-q]: a correlation of dy, padded by
  // 2 - pad, with w'[c,o,p',q'] = w[o,c,2-p',2-q'] (p' = 2 - p). Its output has H = Ho + 2 - 2 pad.
  const Conv2dShape t{s.N, s.O, s.Ho, s.Wo, s.C, 3, 3, 1, 2 - s.pad, s.H, s.W};
  std::vector<T> flipped(s.C * s.O * 9);  // (C, O, 3, 3)
  for (int64_t o = 0; o < s.O; ++o)
    for (int64_t c = 0; c < s.C; ++c)
      for (int64_t p = 0; p < 9; ++p) flipped[(c * s.O + o) * 9 + p] = w[(o * s.C + c) * 9 + 8 - p];
  winograd_forward(t, dy, flipped.data(), static_cast<const T*>(nullptr), dx);
}

template <typename T>
void winograd_backward_filter(const Conv2dShape& s, const T* x, const T* dy, T* dw) {
  const MicroKernel<T> mk = micro_kernel_for<T>();
  const int64_t MR = mk.mr, NR = mk.nr;
  const TileGrid g = tiles_of(s);
  const int64_t Tb = tiles_per_block(s, g.total, NR);
  const int64_t blocks = (g.total + Tb - 1) / Tb;
  const int64_t o_panels = (s.O + MR - 1) / MR, c_panels = (s.C + NR - 1) / NR;
  const int64_t e_size = o_panels * Tb * MR;  // per k: (o_panels, Tb, MR), A panels over depth Tb
  const int64_t v_size = c_panels * Tb * NR;  // per k: (c_panels, Tb, NR), B panels over depth Tb
  std::vector<std::vector<T>> du_per_thread(omp_get_max_threads());  // each (16, O, C) or empty
#pragma omp parallel if (parallel_tiles(s))
  {
    std::vector<T> E(kPositions * e_size, T(0));  // rows past O stay 0
    std::vector<T> V(kPositions * v_size, T(0));  // columns past C stay 0
    std::vector<T> run(kPositions * g.tW);        // (16, len): one run's transformed values
    std::vector<T> scratch(18 * (g.tW + 1));
    std::vector<T>& du = du_per_thread[omp_get_thread_num()];
#pragma omp for schedule(static)
    for (int64_t block = 0; block < blocks; ++block) {
      if (du.empty()) du.assign(kPositions * s.O * s.C, T(0));
      const int64_t t0 = block * Tb, tb = std::min(Tb, g.total - t0);
      for (int64_t c = 0; c < s.C; ++c)
        for_each_run(g, t0, tb, [&](int64_t at, int64_t n, int64_t ti, int64_t tj, int64_t len) {
          transform_input_run(s, x, n, c, ti, tj, len, run.data(), scratch.data());
          T* v = V.data() + ((c / NR) * Tb + at) * NR + c % NR;  // tile at + r: v[r NR]
          for (int64_t k = 0; k < kPositions; ++k)
            for (int64_t r = 0; r < len; ++r) v[k * v_size + r * NR] = run[k * len + r];
        });
      for (int64_t o = 0; o < s.O; ++o)
        for_each_run(g, t0, tb, [&](int64_t at, int64_t n, int64_t ti, int64_t tj, int64_t len) {
          const T* plane = dy + (n * s.O + o) * s.Ho * s.Wo;  // (Ho, Wo)
          const T* g0 = plane + 2 * ti * s.Wo + 2 * tj;
          const T* g1 = 2 * ti + 1 < s.Ho ? g0 + s.Wo : nullptr;
          winograd::output_gradient_transform_run(g0, g1, std::min(2 * len, s.Wo - 2 * tj), len,
                                                  run.data(), len, scratch.data());
          T* e = E.data() + ((o / MR) * Tb + at) * MR + o % MR;  // tile at + r: e[r MR]
          for (int64_t k = 0; k < kPositions; ++k)
            for (int64_t r = 0; r < len; ++r) e[k * e_size + r * MR] = run[k * len + r];
        });
      for (int64_t k = 0; k < kPositions; ++k)
        gemm_blocked(mk, s.O, s.C, tb, T(1), Prepacked<T>{E.data() + k * e_size, Tb, MR},
                     Prepacked<T>{V.data() + k * v_size, Tb, NR}, T(1), du.data() + k * s.O * s.C,
                     s.C);
    }
  }
  std::vector<T> du(kPositions * s.O * s.C);  // (16, O, C), the threads' sums in thread order
  sum_partials(du_per_thread, kPositions * s.O * s.C, du.data());
#pragma omp parallel for schedule(static) if (s.O * s.C * 16 > kConvParallelWork)
  for (int64_t oc = 0; oc < s.O * s.C; ++oc) {
    T u[kPositions];
    for (int64_t k = 0; k < kPositions; ++k) u[k] = du[k * s.O * s.C + oc];
    winograd::filter_gradient_transform(u, dw + oc * 9);
  }
}

#define BUSI_INSTANTIATE(T)                                                                \
  template void winograd_forward<T>(const Conv2dShape&, const T*, const T*, const T*, T*); \
  template void winograd_backward_data<T>(const Conv2dShape&, const T*, const T*, T*);     \
  template void winograd_backward_filter<T>(const Conv2dShape&, const T*, const T*, T*);
BUSI_INSTANTIATE(float)
BUSI_INSTANTIATE(double)
#undef BUSI_INSTANTIATE

}  // namespace busi::cpu
