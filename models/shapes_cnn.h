// The small CNN of the synthetic circles-vs-squares task (tools/demo_shapes and the end-to-end
// test): three conv blocks with batch norm, global average pooling, a linear layer to 2 classes.
#pragma once

#include <memory>

#include "engine/nn.h"

namespace busi::models {

std::shared_ptr<nn::Sequential> make_shapes_cnn(Generator& gen, float dropout = 0.1f);

}  // namespace busi::models
