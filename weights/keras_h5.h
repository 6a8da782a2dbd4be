// Reading convolution layers from a Keras HDF5 weights file (such as Keras' VGG16
// vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5) with the HDF5 C library.
#pragma once

#include <string>
#include <vector>

#include "engine/state_dict.h"

namespace busi::weights {

// Each layer is an HDF5 group named after it, holding a kernel (H x W x I x O, float) and a
// bias (O). Two dataset namings exist, and both are accepted:
//   Keras 2 save_weights:           <layer>/<layer>/kernel:0 and <layer>/<layer>/bias:0
//   Keras 1 (the 2016 release files): <layer>/<layer>_W_1:0   and <layer>/<layer>_b_1:0
//                                     (or <layer>_W:0 and <layer>_b:0)
struct KerasConvLayers {
  StateDict tensors;                 // "<layer>.weight" (O x I x H x W, CPU) and "<layer>.bias"
  std::vector<std::string> present;  // requested layers found in the file, in request order
  std::vector<std::string> missing;  // requested layers whose group is absent
};

// Reads the layers `layer_names` from `path`. A layer whose group is absent is listed as
// missing (partial files are allowed); a group without a kernel or bias dataset, a dataset of
// the wrong rank or type, or a bias that does not match the kernel's O is an error naming the
// file and the dataset. Kernels are transposed from H x W x I x O to O x I x H x W.
KerasConvLayers read_keras_conv_layers(const std::string& path,
                                       const std::vector<std::string>& layer_names);

}  // namespace busi::weights
