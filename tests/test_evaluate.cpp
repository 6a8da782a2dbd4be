// The evaluation helpers of the trainers (tools/train/evaluate.h): the test-time flip's merge of
// an evaluation with its mirror's, on values worked out by hand.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernels/common/error.h"
#include "tools/train/evaluate.h"

using namespace busi;
using namespace busi::tools;

namespace {

Evaluation make_evaluation(std::vector<std::vector<float>> probs, std::vector<int64_t> labels) {
  Evaluation e;
  e.labels = std::move(labels);
  for (size_t i = 0; i < e.labels.size(); ++i) e.sample_ids.push_back(static_cast<int64_t>(10 + i));
  e.probs = std::move(probs);
  return e;
}

}  // namespace

TEST_CASE("test-time flip: probabilities averaged, logits their logarithm, scores recomputed") {
  // Sample 0 (class 0): plain says class 1, its mirror class 0 more strongly -> class 0 wins.
  // Sample 1 (class 1): both say class 1.
  const Evaluation plain = make_evaluation({{0.4f, 0.6f}, {0.2f, 0.8f}}, {0, 1});
  const Evaluation mirror = make_evaluation({{0.9f, 0.1f}, {0.4f, 0.6f}}, {0, 1});
  CHECK(plain.sample_ids == mirror.sample_ids);
  const Evaluation merged = average_with_mirror(plain, mirror, 2);
  REQUIRE(merged.probs.size() == 2);
  CHECK(merged.probs[0][0] == doctest::Approx(0.65));
  CHECK(merged.probs[0][1] == doctest::Approx(0.35));
  CHECK(merged.probs[1][1] == doctest::Approx(0.7));
  // softmax(log p) = p: the logits give the probabilities back at temperature 1.
  for (size_t i = 0; i < 2; ++i) {
    const double e0 = std::exp(merged.logits[i][0]), e1 = std::exp(merged.logits[i][1]);
    CHECK(e0 / (e0 + e1) == doctest::Approx(merged.probs[i][0]));
  }
  CHECK(merged.loss == doctest::Approx(-(std::log(0.65) + std::log(0.7)) / 2));
  CHECK(merged.accuracy == 1.0);  // the plain evaluation alone had 0.5
  CHECK(merged.macro_f1 == 1.0);
  CHECK(merged.sample_ids == plain.sample_ids);
  CHECK(merged.labels == plain.labels);
}

TEST_CASE("test-time flip: a zero probability stays finite; other samples are refused") {
  const Evaluation a = make_evaluation({{1.0f, 0.0f}}, {1});
  const Evaluation merged = average_with_mirror(a, a, 2);
  CHECK(std::isfinite(merged.logits[0][1]));
  CHECK(std::isfinite(merged.loss));
  CHECK(merged.loss > 80.0);  // -log of the smallest normal float, about 87.3

  Evaluation other = make_evaluation({{0.5f, 0.5f}}, {1});
  other.sample_ids = {99};
  CHECK_THROWS_WITH_AS(average_with_mirror(a, other, 2), doctest::Contains("other samples"), Error);
}
