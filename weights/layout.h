// Changing the memory layout of convolution kernels between frameworks: Keras/TensorFlow store
// them H x W x I x O (kernel height, width, input channels, output channels); the engine, like
// PyTorch, stores O x I x H x W.
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace busi::weights {

// `hwio` holds shape[0]*shape[1]*shape[2]*shape[3] values in H x W x I x O order; returns a CPU
// tensor of shape (O, I, H, W) with out[o][i][h][w] = hwio[h][w][i][o].
Tensor hwio_to_oihw(const std::vector<float>& hwio, const Shape& hwio_shape);

}  // namespace busi::weights
