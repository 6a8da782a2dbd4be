// convert_weights: turns downloaded VGG16 ImageNet weights (torchvision's .pth, a safetensors
// export of it, or the Keras HDF5 file) into the engine's weight file, and says plainly which
// of the 13 conv layers the input holds. scripts/get_weights.sh downloads, checks and calls it.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "weights/convert_vgg16.h"
#include "weights/metadata.h"
#include "weights/state_dict_io.h"
#include "weights/vgg16_names.h"

using namespace busi;

namespace {

const char* kUsage =
    "usage: convert_weights --from torchvision|keras INPUT [--out PATH]\n"
    "\n"
    "Converts VGG16 ImageNet weights into the engine's format (safetensors, Keras-style layer\n"
    "names block1_conv1 ... block5_conv3, kernels O x I x 3 x 3), recording in the metadata the\n"
    "preprocessing the weights expect.\n"
    "\n"
    "  --from torchvision  INPUT is torchvision's vgg16-397923af.pth (a PyTorch checkpoint,\n"
    "                      either torch.save format, read directly: no Python needed) or a\n"
    "                      safetensors file with torchvision's names (features.N.weight/bias)\n"
    "                      or the engine's. Preprocessing: imagenet-torch.\n"
    "  --from keras        INPUT is vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 (HDF5).\n"
    "                      Preprocessing: imagenet-caffe (BGR, mean subtracted, no scaling).\n"
    "  --out PATH          output file (default: <repo>/weights/vgg16_imagenet.safetensors)\n"
    "\n"
    "Partial inputs (e.g. ../shared/weights/vgg16_torchvision_partial.safetensors, 5 of 13\n"
    "layers) are converted as they are; the missing layers are listed, and the model\n"
    "He-initialises them when it loads the file. See weights/README.md.\n";

}  // namespace

int main(int argc, char** argv) {
  std::string from, input;
  std::string out = std::string(BUSI_SOURCE_DIR) + "/" + weights::kDefaultVGG16WeightsFile;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--from" && i + 2 < argc) {
      from = argv[++i];
      input = argv[++i];
    } else if (a == "--out" && i + 1 < argc) {
      out = argv[++i];
    } else {
      std::cerr << "convert_weights: unknown or incomplete argument '" << a << "'\n\n" << kUsage;
      return 2;
    }
  }
  if (from != "torchvision" && from != "keras") {
    std::cerr << "convert_weights: --from must be 'torchvision' or 'keras'"
              << (from.empty() ? " (missing)" : ", not '" + from + "'") << "\n\n"
              << kUsage;
    return 2;
  }

  try {
    std::cout << "convert_weights: reading " << from << " weights from " << input << "\n";
    const weights::ConvertedWeights converted = from == "torchvision"
                                                    ? weights::convert_torchvision_vgg16(input)
                                                    : weights::convert_keras_vgg16(input);
    const size_t total = weights::vgg16_conv_layers().size();
    std::cout << "  sha256 " << converted.metadata.at(weights::kSourceSha256Key) << "\n"
              << "  conv layers present (" << converted.layers_present.size() << " of " << total
              << "): " << weights::join_names(converted.layers_present) << "\n";
    if (!converted.layers_missing.empty())
      std::cout << "  conv layers MISSING (" << converted.layers_missing.size() << " of " << total
                << "): " << weights::join_names(converted.layers_missing) << "\n"
                << "  -> the input is partial: a model loading this file He-initialises the "
                   "missing layers.\n";
    if (!converted.ignored.empty())
      std::cout << "  ignored (the engine's VGG16 has its own head): "
                << weights::join_names(converted.ignored) << "\n";

    weights::write_converted(out, converted);
    std::cout << "wrote " << out << ": " << converted.tensors.size() << " tensors, "
              << std::filesystem::file_size(out) << " bytes, preprocessing "
              << converted.metadata.at(weights::kPreprocessingKey) << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "convert_weights: error: " << e.what() << "\n";
    return 1;
  }
}
