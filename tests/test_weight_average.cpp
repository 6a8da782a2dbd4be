// The exponential moving average of a model's weights (engine/weight_average.h): the update
// against the formula computed by hand, the warm-up of the decay, the swap in and out of the
// model, its checkpoint state, and the same averages on the CUDA device.
#include <doctest/doctest.h>

#include <vector>

#include "engine/nn.h"
#include "engine/weight_average.h"
#include "tests/gpu_skip.h"

using namespace busi;
using busi::optim::WeightAverage;

namespace {

// A batch-norm layer: two parameters and two buffers of 3 channels, set to known values.
struct Layer {
  nn::BatchNorm2d bn{3};
  void set(float base) {
    bn.weight.copy_(Tensor::from_vector({base, base + 1, base + 2}, {3}));
    bn.bias.copy_(Tensor::from_vector({-base, 0, base}, {3}));
    bn.running_mean.copy_(Tensor::from_vector({base, 2 * base, 3 * base}, {3}));
    bn.running_var.copy_(Tensor::from_vector({1, 1 + base, 1 + 2 * base}, {3}));
  }
};

}  // namespace

TEST_CASE("weight average: the decay warms up as min(decay, (1 + t) / (10 + t))") {
  CHECK(WeightAverage::decay_at(0.99f, 0) == doctest::Approx(0.1));
  CHECK(WeightAverage::decay_at(0.99f, 10) == doctest::Approx(11.0 / 20.0));
  CHECK(WeightAverage::decay_at(0.99f, 1000) == doctest::Approx(0.99));
  CHECK(WeightAverage::decay_at(0.5f, 1) == doctest::Approx(2.0 / 11.0));  // 2/11 < 0.5
  CHECK(WeightAverage::decay_at(0.5f, 20) == doctest::Approx(0.5));        // 21/30 > 0.5
  CHECK(WeightAverage::decay_at(0.0f, 5) == 0.0f);                         // 0: the last weights
}

TEST_CASE("weight average: each update folds the weights in as avg + (1 - d_t)(w - avg)") {
  Layer layer;
  layer.set(1.0f);
  WeightAverage average(layer.bn, 0.9f);
  // Expected averages of every tensor, in double, over three updates with new weights.
  std::vector<std::vector<double>> expected;
  for (const NamedTensor& t : layer.bn.state_dict()) {
    const std::vector<float> v = t.tensor.to_vector();
    expected.emplace_back(v.begin(), v.end());
  }
  for (int t = 0; t < 3; ++t) {
    layer.set(2.0f + 3.0f * static_cast<float>(t));
    average.update();
    const double d = WeightAverage::decay_at(0.9f, t);
    const StateDict live = layer.bn.state_dict();
    for (size_t i = 0; i < live.size(); ++i) {
      const std::vector<float> w = live[i].tensor.to_vector();
      for (size_t j = 0; j < w.size(); ++j) expected[i][j] += (1.0 - d) * (w[j] - expected[i][j]);
    }
  }
  CHECK(average.updates() == 3);
  const StateDict state = average.state_dict();
  REQUIRE(state.size() == 5);  // four tensors and the count
  for (size_t i = 0; i < 4; ++i) {
    CAPTURE(state[i].name);
    CHECK(state[i].name == std::string(WeightAverage::kPrefix) + layer.bn.state_dict()[i].name);
    const std::vector<float> got = state[i].tensor.to_vector();
    for (size_t j = 0; j < got.size(); ++j) CHECK(got[j] == doctest::Approx(expected[i][j]));
  }
  CHECK(state[4].tensor.item() == 3.0f);
  // The average is not the last weights: the check above could not pass by copying them.
  CHECK(state[0].tensor.to_vector()[0] != layer.bn.weight.to_vector()[0]);
}

TEST_CASE("weight average: a swap shows the averages and then restores the trained weights") {
  Layer layer;
  layer.set(1.0f);
  WeightAverage average(layer.bn, 0.5f);
  layer.set(5.0f);
  average.update();  // d_0 = 0.1: the average is 1 + 0.9 * 4 = 4.6 for the first weight
  const std::vector<float> trained = layer.bn.weight.to_vector();
  {
    WeightAverage::Swap swap(average);
    CHECK(layer.bn.weight.to_vector()[0] == doctest::Approx(4.6));
    layer.bn.running_mean.fill_(-7.0f);  // e.g. statistics re-estimated for the averaged weights
  }
  CHECK(layer.bn.weight.to_vector() == trained);
  CHECK(layer.bn.running_mean.to_vector() == std::vector<float>{5.0f, 10.0f, 15.0f});
}

TEST_CASE("weight average: its state reloads exactly, and a wrong state is refused by name") {
  Layer layer;
  layer.set(1.0f);
  WeightAverage first(layer.bn, 0.9f);
  layer.set(3.0f);
  first.update();
  first.update();

  Layer other;
  other.set(100.0f);
  WeightAverage second(other.bn, 0.9f);
  second.load_state_dict(first.state_dict());
  CHECK(second.updates() == 2);
  for (size_t i = 0; i < 4; ++i)
    CHECK(second.state_dict()[i].tensor.to_vector() == first.state_dict()[i].tensor.to_vector());

  StateDict missing = first.state_dict();
  missing.erase(missing.begin() + 1);
  CHECK_THROWS_WITH_AS(second.load_state_dict(missing),
                       doctest::Contains("no 'weight_average.bias'"), Error);
  StateDict misshapen = first.state_dict();
  misshapen[0].tensor = Tensor::zeros({4});
  CHECK_THROWS_WITH_AS(second.load_state_dict(misshapen),
                       doctest::Contains("'weight_average.weight' has shape"), Error);
  CHECK(WeightAverage::owns("weight_average.bn.weight"));
  CHECK_FALSE(WeightAverage::owns("bn.weight.exp_avg"));
  CHECK_THROWS_AS(WeightAverage(layer.bn, 1.0f), Error);
}

TEST_CASE("weight average: the same averages on the CUDA device as on the CPU") {
  BUSI_REQUIRE_GPU();
  Layer cpu, gpu;
  cpu.set(1.0f);
  gpu.set(1.0f);
  gpu.bn.to(Device::cuda());
  WeightAverage on_cpu(cpu.bn, 0.8f), on_gpu(gpu.bn, 0.8f);
  for (int t = 0; t < 4; ++t) {
    cpu.set(2.0f * static_cast<float>(t));
    gpu.set(2.0f * static_cast<float>(t));  // copy_ from host values into device tensors
    on_cpu.update();
    on_gpu.update();
  }
  CHECK(gpu.bn.weight.device().is_cuda());
  const StateDict a = on_cpu.state_dict(), b = on_gpu.state_dict();
  for (size_t i = 0; i < a.size(); ++i) {
    const std::vector<float> x = a[i].tensor.to_vector(), y = b[i].tensor.to_vector();
    for (size_t j = 0; j < x.size(); ++j) CHECK(y[j] == doctest::Approx(x[j]).epsilon(1e-6));
  }
}
