// Band-passed pyramids and the coarse-to-fine alignment search (see aligned_similarity.h).
//
// Why band-pass: every BUSI image is dark at the bottom and bright at the top, so plain
// thumbnails of two different lesions correlate at 0.8 to 0.95; removing each level's blurred
// copy (x - G_sigma * x) keeps the structure that tells scans apart. The finest level (64 px,
// sigma 3) keeps the detail that only the same scan shares; the coarser levels (16 and 32 px,
// sigma L / 8) only find the alignment, which the fine detail alone would miss.
#include "data/aligned_similarity.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace busi::data {

namespace {

constexpr int kLevels = 3;
constexpr std::array<int64_t, kLevels> kSide = {16, 32, 64};
constexpr std::array<double, kLevels> kSigma = {2.0, 4.0, 3.0};
constexpr std::array<double, 3> kCropScales = {1.0, 0.95, 0.9};
constexpr int kKeep = 3;  // hypotheses refined from one level to the next

int64_t radius(int level) { return kSide[level] / 8; }
int64_t window(int level) { return kSide[level] - 2 * radius(level); }

// The centre (ky H) x (kx W) of a (side, side) image resampled to (side, side), bilinear.
std::vector<float> crop_variant(const std::vector<uint8_t>& image, int64_t side, double ky,
                                double kx) {
  std::vector<float> out(side * side);
  const double c = side / 2.0;
  for (int64_t y = 0; y < side; ++y) {
    const double sy = std::clamp(c + (y + 0.5 - c) * ky - 0.5, 0.0, side - 1.0);
    const int64_t y0 = std::min<int64_t>(static_cast<int64_t>(sy), side - 2);
    const double fy = sy - y0;
    for (int64_t x = 0; x < side; ++x) {
      const double sx = std::clamp(c + (x + 0.5 - c) * kx - 0.5, 0.0, side - 1.0);
      const int64_t x0 = std::min<int64_t>(static_cast<int64_t>(sx), side - 2);
      const double fx = sx - x0;
      auto at = [&](int64_t yy, int64_t xx) { return static_cast<double>(image[yy * side + xx]); };
      out[y * side + x] =
          static_cast<float>((1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) +
                             fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1)));
    }
  }
  return out;
}

// (2n, 2n) -> (n, n): the mean of each 2 x 2 block.
std::vector<float> halve(const std::vector<float>& image, int64_t side) {
  const int64_t n = side / 2;
  std::vector<float> out(n * n);
  for (int64_t y = 0; y < n; ++y)
    for (int64_t x = 0; x < n; ++x)
      out[y * n + x] =
          0.25f * (image[(2 * y) * side + 2 * x] + image[(2 * y) * side + 2 * x + 1] +
                   image[(2 * y + 1) * side + 2 * x] + image[(2 * y + 1) * side + 2 * x + 1]);
  return out;
}

// x - G_sigma * x, (side, side); the Gaussian separable, truncated at 3 sigma, mirrored edges.
std::vector<float> band_pass(const std::vector<float>& image, int64_t side, double sigma) {
  const int64_t r = static_cast<int64_t>(std::ceil(3 * sigma));
  std::vector<double> kernel(2 * r + 1);
  double total = 0.0;
  for (int64_t i = -r; i <= r; ++i) total += kernel[i + r] = std::exp(-i * i / (2 * sigma * sigma));
  for (double& k : kernel) k /= total;
  // mirror[j + r]: the pixel standing for position j in [-r, side + r) (..., 1, 0 | 0, 1, ...).
  std::vector<int64_t> mirror(side + 2 * r);
  for (int64_t j = -r; j < side + r; ++j) {
    int64_t i = j;
    while (i < 0 || i >= side) i = i < 0 ? -i - 1 : 2 * side - i - 1;
    mirror[j + r] = i;
  }
  std::vector<double> rows(side * side), blurred(side * side, 0.0);
  for (int64_t y = 0; y < side; ++y)
    for (int64_t x = 0; x < side; ++x) {
      double s = 0.0;
      for (int64_t i = -r; i <= r; ++i) s += kernel[i + r] * image[y * side + mirror[x + i + r]];
      rows[y * side + x] = s;
    }
  for (int64_t y = 0; y < side; ++y)
    for (int64_t i = -r; i <= r; ++i) {
      const double k = kernel[i + r];
      const double* row = rows.data() + mirror[y + i + r] * side;
      double* out = blurred.data() + y * side;
      for (int64_t x = 0; x < side; ++x) out[x] += k * row[x];
    }
  std::vector<float> out(side * side);
  for (int64_t i = 0; i < side * side; ++i) out[i] = static_cast<float>(image[i] - blurred[i]);
  return out;
}

// The three band-passed levels of a (64, 64) image: 16, 32, 64 px.
std::array<std::vector<float>, kLevels> levels_of(const std::vector<float>& image64) {
  std::array<std::vector<float>, kLevels> raw;
  raw[2] = image64;
  raw[1] = halve(raw[2], kSide[2]);
  raw[0] = halve(raw[1], kSide[1]);
  std::array<std::vector<float>, kLevels> out;
  for (int l = 0; l < kLevels; ++l) out[l] = band_pass(raw[l], kSide[l], kSigma[l]);
  return out;
}

// (side, side) -> (side + 1, side + 1): I[y][x] = sum of v over rows < y, columns < x.
std::vector<float> integral(const std::vector<float>& v, int64_t side, bool squares) {
  const int64_t n = side + 1;
  std::vector<double> acc(n * n, 0.0);
  for (int64_t y = 0; y < side; ++y)
    for (int64_t x = 0; x < side; ++x) {
      const double value = squares ? double(v[y * side + x]) * v[y * side + x] : v[y * side + x];
      acc[(y + 1) * n + x + 1] = value + acc[y * n + x + 1] + acc[(y + 1) * n + x] - acc[y * n + x];
    }
  return std::vector<float>(acc.begin(), acc.end());
}

// Correlation of query window q (W, W) with b's level l at offset (oy, ox): q is zero-mean with
// unit norm, so sum q b over the window, over b's centred norm sqrt(sum b^2 - (sum b)^2 / W^2).
float correlation_at(const std::vector<float>& q, const TargetPyramid& b, int l, int64_t oy,
                     int64_t ox) {
  const int64_t L = kSide[l], W = window(l), n = L + 1;
  const float* t = b.level[l].data();
  double dot = 0.0;
  for (int64_t y = 0; y < W; ++y) {
    dot += dot_product(q.data() + y * W, t + (oy + y) * L + ox, W);
  }
  auto box = [&](const std::vector<float>& I) {
    return double(I[(oy + W) * n + ox + W]) - I[oy * n + ox + W] - I[(oy + W) * n + ox] +
           I[oy * n + ox];
  };
  const double sum = box(b.sum[l]);
  const double centred = box(b.sum_sq[l]) - sum * sum / double(W * W);
  return centred > 1e-6 ? static_cast<float>(dot / std::sqrt(centred)) : 0.0f;
}

struct Hypothesis {
  float score = -2.0f;
  int variant = 0;
  int64_t oy = 0, ox = 0;
};

// Keeps the kKeep best of `list` (by score, then variant and offset for a fixed order).
void keep_best(std::vector<Hypothesis>& list) {
  const size_t keep = std::min<size_t>(kKeep, list.size());
  std::partial_sort(list.begin(), list.begin() + keep, list.end(),
                    [](const Hypothesis& p, const Hypothesis& q) {
                      if (p.score != q.score) return p.score > q.score;
                      if (p.variant != q.variant) return p.variant < q.variant;
                      return p.oy != q.oy ? p.oy < q.oy : p.ox < q.ox;
                    });
  list.resize(keep);
}

}  // namespace

QueryPyramid make_query_pyramid(const ImageSignature& s) {
  QueryPyramid q;
  for (double ky : kCropScales)
    for (double kx : kCropScales) {
      const auto levels = levels_of(crop_variant(s.fine, kFineSize, ky, kx));
      std::vector<std::vector<float>> windows(kLevels);
      for (int l = 0; l < kLevels; ++l) {
        const int64_t L = kSide[l], R = radius(l), W = window(l);
        std::vector<float>& w = windows[l];
        w.resize(W * W);
        double mean = 0.0;
        for (int64_t y = 0; y < W; ++y)
          for (int64_t x = 0; x < W; ++x) mean += w[y * W + x] = levels[l][(R + y) * L + R + x];
        mean /= double(W * W);
        double squares = 0.0;
        for (float& v : w) squares += (v - mean) * (v - mean);
        const double norm = std::sqrt(squares);
        for (float& v : w) v = norm > 1e-6 ? static_cast<float>((v - mean) / norm) : 0.0f;
      }
      q.windows.push_back(std::move(windows));
    }
  return q;
}

TargetPyramid make_target_pyramid(const ImageSignature& s) {
  const std::vector<float> image(s.fine.begin(), s.fine.end());
  TargetPyramid t;
  const auto levels = levels_of(image);
  for (int l = 0; l < kLevels; ++l) {
    t.level.push_back(levels[l]);
    t.sum.push_back(integral(levels[l], kSide[l], false));
    t.sum_sq.push_back(integral(levels[l], kSide[l], true));
  }
  return t;
}

float directional_similarity(const QueryPyramid& a, const TargetPyramid& b) {
  // Level 16: every variant at every offset in [0, 2R]^2 (offset R = no shift).
  std::vector<Hypothesis> best;
  const int64_t R0 = radius(0);
  best.reserve(a.windows.size() * (2 * R0 + 1) * (2 * R0 + 1));
  for (int v = 0; v < static_cast<int>(a.windows.size()); ++v)
    for (int64_t oy = 0; oy <= 2 * R0; ++oy)
      for (int64_t ox = 0; ox <= 2 * R0; ++ox)
        best.push_back({correlation_at(a.windows[v][0], b, 0, oy, ox), v, oy, ox});
  keep_best(best);
  // Levels 32 and 64: a shift s = o - R doubles; search 2 s +- 1 around each kept hypothesis.
  for (int l = 1; l < kLevels; ++l) {
    const int64_t R = radius(l), Rc = radius(l - 1);
    std::vector<Hypothesis> refined;
    for (const Hypothesis& h : best) {
      Hypothesis top;
      for (int64_t dy = -1; dy <= 1; ++dy)
        for (int64_t dx = -1; dx <= 1; ++dx) {
          const int64_t oy = std::clamp<int64_t>(R + 2 * (h.oy - Rc) + dy, 0, 2 * R);
          const int64_t ox = std::clamp<int64_t>(R + 2 * (h.ox - Rc) + dx, 0, 2 * R);
          const float score = correlation_at(a.windows[h.variant][l], b, l, oy, ox);
          if (score > top.score) top = {score, h.variant, oy, ox};
        }
      refined.push_back(top);
    }
    keep_best(refined);
    best = std::move(refined);
  }
  return std::clamp(best.front().score, -1.0f, 1.0f);
}

float fine_similarity(const ImageSignature& a, const ImageSignature& b) {
  return std::max(directional_similarity(make_query_pyramid(a), make_target_pyramid(b)),
                  directional_similarity(make_query_pyramid(b), make_target_pyramid(a)));
}

}  // namespace busi::data
