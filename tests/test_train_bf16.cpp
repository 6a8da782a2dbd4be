// End to end in BF16 mode: the small CNN of tests/test_train_synthetic.cpp learns circles vs
// squares with bf16 products, to the accuracy of the same run in FP32 (same seeds, same data)
// within a stated margin.
#include <doctest/doctest.h>

#include "data/synthetic_shapes.h"
#include "engine/autograd.h"
#include "engine/nn.h"
#include "engine/optim.h"
#include "engine/precision.h"
#include "models/shapes_cnn.h"

using namespace busi;

namespace {

struct RunResult {
  double first_loss = 0, last_loss = 0, accuracy = 0;
};

// The recipe of test_train_synthetic.cpp (8 epochs of 1024 images, SGD with momentum, cosine
// schedule), in the precision now set.
RunResult train_shapes() {
  const int64_t size = 20, batch = 32, count = 1024;
  const data::ShapesBatch train = data::make_shapes_dataset(count, size, 1);
  const data::ShapesBatch test = data::make_shapes_dataset(400, size, 2);
  Generator gen(3);
  auto net = models::make_shapes_cnn(gen);
  optim::SGD sgd({optim::ParamGroup{"all", net->named_parameters(), 0.05f, 1e-4f}}, 0.9f, true);
  Generator shuffle(4);
  const int epochs = 8;
  optim::CosineWarmupSchedule schedule(10, epochs * (count / batch));
  int64_t step = 0;
  RunResult r;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    const std::vector<int64_t> order = shuffle.permutation(count);
    double total = 0;
    for (int64_t b = 0; b + batch <= count; b += batch) {
      Tensor x = Tensor::empty({batch, 1, size, size});
      std::vector<int64_t> y;
      for (int64_t i = 0; i < batch; ++i) {
        x.narrow0(i, 1).copy_(train.images.narrow0(order[b + i], 1));
        y.push_back(train.labels[order[b + i]]);
      }
      sgd.set_lr_factor(schedule.factor(step++));
      Tensor loss = cross_entropy((*net)(x), y);
      sgd.zero_grad();
      loss.backward();
      sgd.step();
      total += loss.item();
    }
    (epoch == 0 ? r.first_loss : r.last_loss) = total / (count / batch);
  }
  NoGradGuard no_grad;
  net->eval();
  const std::vector<float> logits = (*net)(test.images).to_vector();
  int correct = 0;
  for (size_t i = 0; i < test.labels.size(); ++i)
    correct += (logits[2 * i + 1] > logits[2 * i]) == (test.labels[i] == 1);
  r.accuracy = static_cast<double>(correct) / test.labels.size();
  return r;
}

}  // namespace

TEST_CASE("the small CNN trains in BF16 mode to the FP32 accuracy within 2 points") {
  const RunResult fp32 = train_shapes();
  RunResult bf16;
  {
    ScopedPrecision mode(Precision::BF16);
    bf16 = train_shapes();
  }
  MESSAGE("fp32: loss " << fp32.first_loss << " -> " << fp32.last_loss << ", test accuracy "
                        << fp32.accuracy);
  MESSAGE("bf16: loss " << bf16.first_loss << " -> " << bf16.last_loss << ", test accuracy "
                        << bf16.accuracy);
  // The margin: 2 points of 400 test images is 8 images; one standard error of an accuracy near
  // 0.97 on 400 images is sqrt(0.97 * 0.03 / 400) = 0.85 points, so 2 points is about 2.3 of them.
  CHECK(bf16.accuracy >= 0.95);
  CHECK(bf16.accuracy >= fp32.accuracy - 0.02);
  CHECK(bf16.last_loss < 0.5 * bf16.first_loss);
  // The two runs differ (bf16 products did run): identical losses would mean the switch is ignored.
  CHECK(bf16.last_loss != fp32.last_loss);
}
