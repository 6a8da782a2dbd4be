// Optimisers and schedules: single steps against updates computed by hand.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/optim.h"
#include "tests/gradcheck.h"

using namespace busi;
using namespace busi::optim;

namespace {
// A parameter p with gradient g set directly (as backward() would leave it).
Tensor param_with_grad(std::vector<float> p, std::vector<float> g) {
  Tensor t = Tensor::from_vector(p, {static_cast<int64_t>(p.size())}).set_requires_grad(true);
  t.set_grad(Tensor::from_vector(g, t.shape()));
  return t;
}
}  // namespace

TEST_CASE("SGD with momentum and weight decay matches the hand-computed update") {
  Tensor p = param_with_grad({1.0f, -2.0f}, {0.5f, 0.25f});
  SGD sgd({ParamGroup{"all", {{"w", p}}, 0.1f, 0.01f}}, 0.9f);
  sgd.step();
  // g = grad + wd p = (0.51, 0.23); first step: buf = g; p -= lr buf
  CHECK(p.to_vector()[0] == doctest::Approx(1.0 - 0.1 * 0.51));
  CHECK(p.to_vector()[1] == doctest::Approx(-2.0 - 0.1 * 0.23));
  const double p0 = 1.0 - 0.051;
  p.set_grad(Tensor::from_vector({0.5f, 0.25f}, {2}));
  sgd.step();
  // g = 0.5 + 0.01 p0; buf = 0.9 * 0.51 + g; p -= 0.1 buf
  const double g = 0.5 + 0.01 * p0, buf = 0.9 * 0.51 + g;
  CHECK(p.to_vector()[0] == doctest::Approx(p0 - 0.1 * buf));
}

TEST_CASE("SGD Nesterov step") {
  Tensor p = param_with_grad({1.0f}, {1.0f});
  SGD sgd({ParamGroup{"all", {{"w", p}}, 0.1f, 0.0f}}, 0.5f, true);
  sgd.step();  // buf = 1; step = g + mu buf = 1.5
  CHECK(p.to_vector()[0] == doctest::Approx(1.0 - 0.15));
  sgd.step();  // buf = 0.5 + 1 = 1.5; step = 1 + 0.75
  CHECK(p.to_vector()[0] == doctest::Approx(0.85 - 0.175));
}

TEST_CASE("AdamW and Adam match the hand-computed update") {
  for (bool decoupled : {true, false}) {
    Tensor p = param_with_grad({0.5f}, {0.2f});
    Adam adam({ParamGroup{"all", {{"w", p}}, 0.01f, 0.1f}}, decoupled, 0.9f, 0.999f, 1e-8f);
    double pv = 0.5, m = 0, v = 0;
    for (int t = 1; t <= 3; ++t) {
      p.set_grad(Tensor::from_vector({0.2f}, {1}));
      adam.step();
      double g = 0.2;
      if (decoupled)
        pv -= 0.01 * 0.1 * pv;
      else
        g += 0.1 * pv;
      m = 0.9 * m + 0.1 * g;
      v = 0.999 * v + 0.001 * g * g;
      const double mh = m / (1 - std::pow(0.9, t)), vh = v / (1 - std::pow(0.999, t));
      pv -= 0.01 * mh / (std::sqrt(vh) + 1e-8);
      INFO("decoupled=" << decoupled << " step " << t);
      CHECK(p.to_vector()[0] == doctest::Approx(pv).epsilon(1e-5));
    }
  }
}

TEST_CASE("parameter groups have their own rates; frozen parameters are not touched") {
  Tensor head = param_with_grad({1.0f}, {1.0f});
  Tensor base = param_with_grad({1.0f}, {1.0f});
  Tensor frozen = param_with_grad({1.0f}, {1.0f});
  frozen.set_requires_grad(false);
  SGD sgd({ParamGroup{"head", {{"h", head}}, 0.1f, 0.0f},
           ParamGroup{"base", {{"b", base}, {"f", frozen}}, 0.01f, 0.0f}},
          0.0f);
  sgd.set_lr_factor(0.5f);
  sgd.step();
  CHECK(head.to_vector()[0] == doctest::Approx(0.95));
  CHECK(base.to_vector()[0] == doctest::Approx(0.995));
  CHECK(frozen.to_vector()[0] == 1.0f);
  CHECK(sgd.lr(1) == doctest::Approx(0.005));
}

TEST_CASE("optimiser state round-trips through its state dict") {
  Tensor p = param_with_grad({1.0f, 2.0f}, {0.1f, 0.2f});
  SGD a({ParamGroup{"all", {{"w", p}}, 0.1f, 0.0f}}, 0.9f);
  a.step();
  const StateDict s = a.state_dict();
  REQUIRE(s.size() == 1);
  CHECK(s[0].name == "w.momentum_buffer");
  Tensor p2 = p.clone().set_requires_grad(true);
  p2.set_grad(Tensor::from_vector({0.1f, 0.2f}, {2}));
  p.set_grad(Tensor::from_vector({0.1f, 0.2f}, {2}));
  SGD b({ParamGroup{"all", {{"w", p2}}, 0.1f, 0.0f}}, 0.9f);
  b.load_state_dict(s);
  a.step();
  b.step();
  CHECK(p.to_vector() == p2.to_vector());
}

TEST_CASE("schedules") {
  StepSchedule step(10, 0.5f);
  CHECK(step.factor(0) == 1.0f);
  CHECK(step.factor(9) == 1.0f);
  CHECK(step.factor(10) == 0.5f);
  CHECK(step.factor(25) == 0.25f);
  CosineWarmupSchedule cos(4, 14, 0.1f);
  CHECK(cos.factor(0) == doctest::Approx(0.25));
  CHECK(cos.factor(3) == doctest::Approx(1.0));
  CHECK(cos.factor(4) == doctest::Approx(1.0));
  CHECK(cos.factor(9) == doctest::Approx(0.1 + 0.9 * 0.5));
  CHECK(cos.factor(14) == doctest::Approx(0.1));
  CHECK(cos.factor(100) == doctest::Approx(0.1));
  CosineWarmupSchedule no_warmup(0, 10);
  CHECK(no_warmup.factor(0) == doctest::Approx(1.0));
  CHECK(no_warmup.factor(5) == doctest::Approx(0.5));
  CHECK_THROWS_WITH_AS(StepSchedule(0, 0.1f), doctest::Contains("step_size must be positive"),
                       Error);
  CHECK_THROWS_WITH_AS(StepSchedule(5, -2.0f), doctest::Contains("gamma must be positive"), Error);
  CHECK_THROWS_WITH_AS(CosineWarmupSchedule(0, 0), doctest::Contains("total steps"), Error);
  CHECK_THROWS_WITH_AS(CosineWarmupSchedule(11, 10), doctest::Contains("warm-up 11"), Error);
}

TEST_CASE("optimiser argument errors") {
  Tensor p = param_with_grad({1.0f}, {1.0f});
  CHECK_THROWS_WITH_AS(SGD({ParamGroup{"g", {{"w", p}}, -1.0f, 0.0f}}),
                       doctest::Contains("negative learning rate"), Error);
  CHECK_THROWS_WITH_AS(SGD({ParamGroup{"g", {{"w", p}}, 0.1f, 0.0f}}, 0.0f, true),
                       doctest::Contains("Nesterov needs a positive momentum"), Error);
  CHECK_THROWS_AS(SGD({}), Error);
  // Optimiser state is keyed by name: two parameters with one name, or one tensor listed twice,
  // would share (or double) updates.
  Tensor q = param_with_grad({2.0f}, {1.0f});
  CHECK_THROWS_WITH_AS(
      SGD({ParamGroup{"a", {{"w", p}}, 0.1f, 0.0f}, ParamGroup{"b", {{"w", q}}, 0.1f, 0.0f}}),
      doctest::Contains("parameter name 'w' appears twice"), Error);
  CHECK_THROWS_WITH_AS(Adam({ParamGroup{"a", {{"w", p}, {"w_again", p}}, 0.1f, 0.0f}}),
                       doctest::Contains("already listed under another name"), Error);
}
