// The ECE a perfectly calibrated model shows on few images (calibration.h's
// ece_under_perfect_calibration): it falls as the images grow in number, as 1 / sqrt(n) would
// have it, and a model whose labels really are drawn from its probabilities lands inside its
// range.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "engine/random.h"
#include "tools/metrics/calibration.h"

using namespace busi;
using namespace busi::tools;

namespace {

// n rows of three probabilities, confidence spread over [0.4, 1).
std::vector<std::vector<double>> spread_probabilities(int n, Generator& gen) {
  std::vector<std::vector<double>> probs;
  for (int i = 0; i < n; ++i) {
    const double top = 0.4 + 0.6 * gen.uniform() * 0.999;
    const double rest = 1.0 - top, split = gen.uniform();
    probs.push_back({top, rest * split, rest * (1.0 - split)});
  }
  return probs;
}

}  // namespace

TEST_CASE("ECE floor: about 1 / sqrt(n), and true calibration falls inside its range") {
  Generator gen(7);
  const auto small = spread_probabilities(100, gen);
  const auto large = spread_probabilities(10000, gen);
  Interval small_range, large_range;
  const double small_floor = ece_under_perfect_calibration(small, 15, 400, 1, &small_range);
  const double large_floor = ece_under_perfect_calibration(large, 15, 100, 1, &large_range);
  MESSAGE("ECE floor: " << small_floor << " on 100 images, " << large_floor << " on 10000");
  // 100 images: a floor of several hundredths; 100 times the images: about a tenth of it.
  CHECK(small_floor > 0.04);
  CHECK(small_floor < 0.15);
  CHECK(large_floor < small_floor / 5);
  CHECK(large_floor > small_floor / 20);
  CHECK(small_range.low < small_floor);
  CHECK(small_range.high > small_floor);

  // Labels drawn from the probabilities: a calibrated model, whose ECE is the floor's kind.
  int inside = 0;
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<int64_t> labels;
    for (const auto& p : small) {
      const double u = gen.uniform();
      labels.push_back(u < p[0] ? 0 : u < p[0] + p[1] ? 1 : 2);
    }
    const double ece = score_probabilities(small, labels, 15, 0).ece;
    inside += ece >= small_range.low && ece <= small_range.high;
  }
  CHECK(inside >= 16);  // 95 % range: 19 of 20 expected, 16 leaves room for chance

  // Overconfident predictions (right half the time at 0.99) are far outside it.
  std::vector<std::vector<double>> sure(100, {0.99, 0.005, 0.005});
  std::vector<int64_t> half(100);
  for (size_t i = 0; i < half.size(); ++i) half[i] = static_cast<int64_t>(i % 2);
  Interval sure_range;
  ece_under_perfect_calibration(sure, 15, 200, 1, &sure_range);
  CHECK(score_probabilities(sure, half, 15, 0).ece > sure_range.high + 0.3);
  CHECK(std::isnan(ece_under_perfect_calibration(sure, 15, 0, 1, nullptr)));
}
