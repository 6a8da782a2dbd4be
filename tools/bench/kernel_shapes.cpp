// The shapes of bench_kernels (kernel_shapes.h).
#include "tools/bench/kernel_shapes.h"

namespace busi::tools {

Sizes kernel_sizes(bool quick, bool smoke) {
  Sizes z;
  z.copy_bytes = size_t(1) << 30;  // 1 GiB: far beyond L2
  z.big = {32, 64, 224, 224};      // 103 M values (411 MB)
  z.features = {32, 256, 28, 28};
  z.head = 32 * 25088;  // (32, 512*7*7): 3.2 MB, about L2-sized
  // A VGG16-sized parameter set: the 13 convolutions (14.7 M) and a 25088 x 256 head (6.4 M):
  // 21.1 M values in 30 tensors.
  z.params = {1728,    36864,   73728,   147456,  294912, 589824, 589824, 1179648, 2359296, 2359296,
              2359296, 2359296, 2359296, 6422528, 256,    768,    64,     64,      128,     128,
              256,     256,     256,     512,     512,    512,    512,    512,     512,     512};
  z.gemms = {
      {"square 4096", false, false, 4096, 4096, 4096},
      {"VGG head forward x W^T", false, true, 32, 256, 25088},
      {"VGG head dW = dy^T x", true, false, 256, 25088, 32},
      {"VGG head dx = dy W", false, false, 32, 25088, 256},
      {"conv-like 64 x 1.6M x 576", false, false, 64, 1605632, 576},
  };
  z.batch = 32;
  z.layers = {{"SimpleCNN block1", 1, 32, 224},  {"SimpleCNN block2", 32, 64, 112},
              {"SimpleCNN block3", 64, 128, 56}, {"SimpleCNN block4", 128, 256, 28},
              {"VGG16 conv1_1", 3, 64, 224},     {"VGG16 conv1_2", 64, 64, 224},
              {"VGG16 conv2_1", 64, 128, 112},   {"VGG16 conv2_2", 128, 128, 112},
              {"VGG16 conv3_1", 128, 256, 56},   {"VGG16 conv3_2", 256, 256, 56},
              {"VGG16 conv4_1", 256, 512, 28},   {"VGG16 conv4_2", 512, 512, 28},
              {"VGG16 conv5_x", 512, 512, 14}};
  if (quick) {
    z.big = {32, 64, 56, 56};
    z.gemms.resize(2);
    z.layers = {{"SimpleCNN block3", 64, 128, 56}, {"VGG16 conv5_x", 512, 512, 14}};
  }
  if (smoke) {
    z.copy_bytes = size_t(4) << 20;
    z.big = {2, 8, 16, 16};
    z.features = {2, 16, 8, 8};
    z.head = 2 * 200;
    z.params = {1000, 17000, 64};  // crosses the fused optimiser's 16384-element chunks
    z.gemms = {{"square 64", false, false, 64, 64, 64}, {"head-like", false, true, 4, 24, 300}};
    z.batch = 2;
    z.layers = {{"tiny 4->8 @12", 4, 8, 12}};
  }
  return z;
}

}  // namespace busi::tools
