// demo_shapes: trains a small CNN to tell circles from squares (images generated from a seed)
// and prints the loss per epoch and the test accuracy: the engine end to end in one minute.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "data/synthetic_shapes.h"
#include "engine/autograd.h"
#include "engine/nn.h"
#include "engine/optim.h"
#include "models/shapes_cnn.h"

using namespace busi;

int main(int argc, char** argv) {
  std::string device_flag = "auto";
  int epochs = 8;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << "usage: demo_shapes [--device auto|cpu|cuda] [--epochs N]\n"
                   "Trains a small CNN on synthetic circles vs squares and reports accuracy.\n";
      return 0;
    } else if (a == "--device" && i + 1 < argc) {
      device_flag = argv[++i];
    } else if (a == "--epochs" && i + 1 < argc) {
      epochs = std::stoi(argv[++i]);
    } else {
      std::cerr << "demo_shapes: unknown argument '" << a << "' (see --help)\n";
      return 2;
    }
  }
  try {
    const Device device = choose_device(device_flag);
    const int64_t size = 20, batch = 32, n_train = 1024;
    const data::ShapesBatch train = data::make_shapes_dataset(n_train, size, 1);
    const data::ShapesBatch test = data::make_shapes_dataset(400, size, 2);
    Generator gen(3);
    auto model = models::make_shapes_cnn(gen, 0.0f);
    nn::Sequential& net = *model;
    net.to(device);
    optim::SGD sgd({optim::ParamGroup{"all", net.named_parameters(), 0.05f, 1e-4f}}, 0.9f, true);
    optim::CosineWarmupSchedule schedule(10, epochs * (n_train / batch));
    std::cout << "demo_shapes: " << net.num_parameters() << " parameters on " << device.str()
              << ", " << n_train << " training images of " << size << "x" << size << "\n";
    Generator shuffle(4);
    int64_t step = 0;
    for (int epoch = 0; epoch < epochs; ++epoch) {
      const auto t0 = std::chrono::steady_clock::now();
      const std::vector<int64_t> order = shuffle.permutation(n_train);
      double total = 0;
      for (int64_t b = 0; b + batch <= n_train; b += batch) {
        Tensor x = Tensor::empty({batch, 1, size, size});
        std::vector<int64_t> y;
        for (int64_t i = 0; i < batch; ++i) {
          x.narrow0(i, 1).copy_(train.images.narrow0(order[b + i], 1));
          y.push_back(train.labels[order[b + i]]);
        }
        sgd.set_lr_factor(schedule.factor(step++));
        Tensor loss = cross_entropy(net(x.to(device)), y);
        sgd.zero_grad();
        loss.backward();
        sgd.step();
        total += loss.item();
      }
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("epoch %d  loss %.4f  %.0f img/s\n", epoch + 1, total / (n_train / batch),
                  n_train / secs);
    }
    NoGradGuard no_grad;
    net.eval();
    const std::vector<float> logits = net(test.images.to(device)).to_vector();
    int correct = 0;
    for (size_t i = 0; i < test.labels.size(); ++i)
      correct += (logits[2 * i + 1] > logits[2 * i]) == (test.labels[i] == 1);
    std::printf("test accuracy %.1f%% (%d of %zu)\n", 100.0 * correct / test.labels.size(), correct,
                test.labels.size());
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "demo_shapes: " << e.what() << "\n";
    return 1;
  }
}
