// The end-to-end recipe the training tests share: the small CNN of models/shapes_cnn.h learns
// circles vs squares (1024 training images of 20 x 20, 8 epochs of batches of 32, SGD with
// Nesterov momentum and a cosine schedule with warm-up), in the precision the caller has set;
// returns each epoch's mean loss and the accuracy on 400 test images.
#pragma once

#include <vector>

#include "data/synthetic_shapes.h"
#include "engine/autograd.h"
#include "engine/nn.h"
#include "engine/optim.h"
#include "models/shapes_cnn.h"

namespace busi::test {

struct ShapesRun {
  std::vector<double> epoch_losses;  // (epochs,)
  double accuracy = 0;               // on the test images, in eval mode
};

inline ShapesRun train_shapes_cnn() {
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
  ShapesRun run;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    const std::vector<int64_t> order = shuffle.permutation(count);
    double total = 0;
    for (int64_t b = 0; b + batch <= count; b += batch) {
      Tensor x = Tensor::empty({batch, 1, size, size});  // (N, 1, H, W)
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
    run.epoch_losses.push_back(total / static_cast<double>(count / batch));
  }
  NoGradGuard no_grad;
  net->eval();
  const std::vector<float> logits = (*net)(test.images).to_vector();  // (400, 2)
  int correct = 0;
  for (size_t i = 0; i < test.labels.size(); ++i)
    correct += (logits[2 * i + 1] > logits[2 * i]) == (test.labels[i] == 1);
  run.accuracy = static_cast<double>(correct) / static_cast<double>(test.labels.size());
  return run;
}

}  // namespace busi::test
