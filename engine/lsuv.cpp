// LSUV initialisation, per layer or per channel (see lsuv.h).
#include "engine/lsuv.h"

#include <cmath>
#include <functional>

#include "engine/autograd.h"
#include "kernels/common/error.h"

namespace busi {

namespace {

// Mean and standard deviation (biased) of each channel of a (N, C, ...) output, and of all of it.
struct OutputStats {
  std::vector<double> mean, std;
  double all_mean = 0, all_std = 0;
};

OutputStats stats_of(const Tensor& z, const std::string& name) {
  BUSI_CHECK(z.dim() >= 2, "LSUV: layer ", name, ": expected an output (N, C, ...), got ",
             shape_str(z.shape()));
  const std::vector<float> values = z.to_vector();
  const int64_t n = z.size(0), c = z.size(1);
  const int64_t inner = z.numel() / (n * c);  // H * W, or 1
  // Two passes (the mean, then the squared deviations from it): a channel whose values are all
  // the same float gets a standard deviation of exactly 0, not the rounding error of
  // E[z^2] - E[z]^2, which would be "normalised" by a factor of 1e9.
  const auto each = [&](const std::function<void(size_t, float)>& f) {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < c; ++k) {
        const float* row = values.data() + (i * c + k) * inner;
        for (int64_t j = 0; j < inner; ++j) f(static_cast<size_t>(k), row[j]);
      }
  };
  std::vector<double> sum(static_cast<size_t>(c)), squares(static_cast<size_t>(c));
  double total = 0;
  each([&](size_t k, float v) { sum[k] += v; });
  for (const double s : sum) total += s;
  const double per_channel = static_cast<double>(n * inner);
  const double count = per_channel * static_cast<double>(c);
  OutputStats out;
  out.all_mean = total / count;
  for (const double s : sum) out.mean.push_back(s / per_channel);
  double total_squares = 0;  // deviations from the mean of the whole output
  each([&](size_t k, float v) {
    const double d = v - out.mean[k], e = v - out.all_mean;
    squares[k] += d * d;
    total_squares += e * e;
  });
  for (const double q : squares) out.std.push_back(std::sqrt(q / per_channel));
  out.all_std = std::sqrt(total_squares / count);
  BUSI_CHECK(std::isfinite(out.all_std) && std::isfinite(out.all_mean), "LSUV: layer ", name,
             ": its output is not finite (NaN or infinity) on the batch");
  return out;
}

// w_c <- w_c * scale_c and b_c <- (b_c + shift_c) * scale_c, in place, wherever they live.
void rescale(const LsuvLayer& layer, const std::vector<double>& scale,
             const std::vector<double>& shift) {
  NoGradGuard no_grad;
  Tensor& w = *layer.weight;
  std::vector<float> values = w.to_vector();
  const size_t per_row = values.size() / scale.size();
  for (size_t k = 0; k < scale.size(); ++k)
    for (size_t j = 0; j < per_row; ++j) values[k * per_row + j] *= static_cast<float>(scale[k]);
  w.copy_(Tensor::from_vector(values, w.shape()).to(w.device()));
  if (!layer.bias) return;
  Tensor& b = *layer.bias;
  std::vector<float> bias = b.to_vector();
  for (size_t k = 0; k < scale.size(); ++k)
    bias[k] = static_cast<float>((bias[k] + shift[k]) * scale[k]);
  b.copy_(Tensor::from_vector(bias, b.shape()).to(b.device()));
}

// Without a bias a channel's mean cannot be moved: only its scale is checked.
bool converged(const OutputStats& s, const LsuvOptions& o, const std::vector<int>& dead,
               bool has_bias) {
  if (o.mode == LsuvMode::WholeLayer) return std::abs(s.all_std - 1.0) < o.tolerance;
  for (size_t k = 0; k < s.std.size(); ++k) {
    if (dead[k]) continue;
    if (std::abs(s.std[k] - 1.0) >= o.tolerance) return false;
    if (has_bias && std::abs(s.mean[k]) >= o.tolerance) return false;
  }
  return true;
}

}  // namespace

std::vector<LsuvLayerReport> lsuv_init(const std::vector<LsuvLayer>& layers,
                                       const LsuvOptions& options) {
  std::vector<LsuvLayerReport> reports;
  for (const LsuvLayer& layer : layers) {
    BUSI_CHECK(layer.weight && layer.preactivation, "LSUV: layer ", layer.name,
               " has no weight or no output function");
    const int64_t channels = layer.weight->size(0);
    BUSI_CHECK(!layer.bias || layer.bias->numel() == channels, "LSUV: layer ", layer.name,
               ": bias of ", layer.bias->numel(), " values for ", channels, " output channels");
    LsuvLayerReport report;
    report.name = layer.name;
    OutputStats s = [&] {
      NoGradGuard no_grad;
      return stats_of(layer.preactivation(), layer.name);
    }();
    BUSI_CHECK(s.std.size() == static_cast<size_t>(channels), "LSUV: layer ", layer.name,
               ": output of ", s.std.size(), " channels for a weight of ", channels, " rows");
    BUSI_CHECK(s.all_std > 1e-6 * std::abs(s.all_mean), "LSUV: layer ", layer.name,
               ": its output is the same for every input of the batch (standard deviation 0); "
               "nothing to normalise");
    report.std_before = s.all_std;
    report.mean_before = s.all_mean;
    // A channel constant on the batch (e.g. all its inputs are dead ReLUs) cannot be scaled to
    // unit variance; it is left alone and counted.
    std::vector<int> dead(static_cast<size_t>(channels));
    // "Constant" is relative to float precision: a spread below 1e-6 of the channel's own size
    // is rounding, and dividing by it would blow the weights up.
    for (size_t k = 0; k < dead.size(); ++k)
      dead[k] = !(s.std[k] > 1e-6 * (std::abs(s.mean[k]) + s.all_std));
    for (const int d : dead) report.dead_channels += d;
    while (!converged(s, options, dead, layer.bias != nullptr) &&
           report.iterations < options.max_iterations) {
      std::vector<double> scale(static_cast<size_t>(channels)), shift(scale.size());
      for (size_t k = 0; k < scale.size(); ++k) {
        if (options.mode == LsuvMode::WholeLayer) {
          scale[k] = 1.0 / s.all_std;
        } else if (!dead[k]) {
          scale[k] = 1.0 / s.std[k];
          shift[k] = -s.mean[k];  // z_c - m_c, then divided by s_c
        } else {
          scale[k] = 1.0;
        }
      }
      rescale(layer, scale, shift);
      ++report.iterations;
      NoGradGuard no_grad;
      s = stats_of(layer.preactivation(), layer.name);
    }
    report.std_after = s.all_std;
    report.mean_after = s.all_mean;
    reports.push_back(report);
  }
  return reports;
}

}  // namespace busi
