// The circles-vs-squares CNN (see shapes_cnn.h).
#include "models/shapes_cnn.h"

namespace busi::models {

std::shared_ptr<nn::Sequential> make_shapes_cnn(Generator& gen, float dropout) {
  auto net = std::make_shared<nn::Sequential>();
  net->add("conv1", std::make_shared<nn::Conv2d>(1, 8, 3, 1, 1, false, gen))
      .add("bn1", std::make_shared<nn::BatchNorm2d>(8))
      .add("relu1", std::make_shared<nn::ReLU>())
      .add("pool1", std::make_shared<nn::MaxPool2d>(2))
      .add("conv2", std::make_shared<nn::Conv2d>(8, 16, 3, 1, 1, false, gen))
      .add("bn2", std::make_shared<nn::BatchNorm2d>(16))
      .add("relu2", std::make_shared<nn::ReLU>())
      .add("pool2", std::make_shared<nn::MaxPool2d>(2))
      .add("conv3", std::make_shared<nn::Conv2d>(16, 32, 3, 1, 1, true, gen))
      .add("relu3", std::make_shared<nn::ReLU>())
      .add("gap", std::make_shared<nn::GlobalAvgPool2d>())
      .add("dropout", std::make_shared<nn::Dropout>(dropout, gen.seed() + 1))
      .add("fc", std::make_shared<nn::Linear>(32, 2, true, gen));
  return net;
}

}  // namespace busi::models
