// End to end: a small CNN (conv, batch norm, ReLU, pooling, dropout, linear, cross-entropy,
// SGD with momentum) learns to tell circles from squares, on the CPU.
#include <doctest/doctest.h>

#include "data/synthetic_shapes.h"
#include "engine/autograd.h"
#include "engine/nn.h"
#include "engine/optim.h"
#include "models/shapes_cnn.h"

using namespace busi;

namespace {

double accuracy(nn::Module& net, const data::ShapesBatch& d) {
  NoGradGuard no_grad;
  net.eval();
  const std::vector<float> logits = net(d.images).to_vector();
  int correct = 0;
  for (size_t i = 0; i < d.labels.size(); ++i)
    correct += (logits[2 * i + 1] > logits[2 * i]) == (d.labels[i] == 1);
  net.train();
  return static_cast<double>(correct) / d.labels.size();
}

}  // namespace

TEST_CASE("a small CNN learns circles vs squares to >= 95% test accuracy") {
  const int64_t size = 20, batch = 32;
  const data::ShapesBatch train = data::make_shapes_dataset(1024, size, 1);
  const data::ShapesBatch test = data::make_shapes_dataset(400, size, 2);
  Generator gen(3);
  auto net = models::make_shapes_cnn(gen);
  optim::SGD sgd({optim::ParamGroup{"all", net->named_parameters(), 0.05f, 1e-4f}}, 0.9f, true);

  double first_epoch_loss = 0, last_epoch_loss = 0;
  Generator shuffle(4);
  const int epochs = 8;
  optim::CosineWarmupSchedule schedule(10, epochs * (1024 / batch));
  int64_t step = 0;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    const std::vector<int64_t> order = shuffle.permutation(1024);
    double total = 0;
    for (int64_t b = 0; b + batch <= 1024; b += batch) {
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
    const double epoch_loss = total / (1024 / batch);
    if (epoch == 0) first_epoch_loss = epoch_loss;
    last_epoch_loss = epoch_loss;
    MESSAGE("epoch " << epoch << " loss " << epoch_loss);
  }
  const double acc = accuracy(*net, test);
  MESSAGE("test accuracy " << acc);
  CHECK(last_epoch_loss < 0.5 * first_epoch_loss);
  CHECK(acc >= 0.95);
}
