// A model's state: its named parameters and buffers ("block1_conv1.weight", "bn1.running_mean"),
// in registration order. Weight files and checkpoints are read into and written from this view.
#pragma once

#include <string>
#include <vector>

#include "engine/tensor.h"

namespace busi {

struct NamedTensor {
  std::string name;
  Tensor tensor;  // shares storage with the module: writing into it sets the module's weights
};
using StateDict = std::vector<NamedTensor>;

}  // namespace busi
