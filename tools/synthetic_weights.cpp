// synthetic_weights: writes a complete 13-layer VGG16 weight file for testing and timing the
// complete-weights path (finetune_vgg's 224 px cpu-quick recipe) where the real ImageNet file
// cannot be had: the layers of a partial file kept, the others He-initialised, the metadata
// saying so. Not ImageNet weights: a run on it measures time and memory, never accuracy.
#include <filesystem>
#include <iostream>

#include "tools/cli/command_line.h"
#include "tools/cli/tool_main.h"
#include "tools/finetune/imagenet_weights.h"

using namespace busi;
using namespace busi::tools;

namespace {

int synthetic_weights_main(int argc, char** argv) {
  std::string partial = std::filesystem::path(BUSI_SOURCE_DIR
                                              "/../shared/weights/vgg16_torchvision_partial"
                                              ".safetensors")
                            .lexically_normal()
                            .string();
  std::string out;
  int64_t seed = 1;
  CommandLine cli("synthetic_weights",
                  "Writes a complete 13-layer VGG16 file (engine format) for tests and timing: "
                  "the conv layers of --partial kept, the others He-initialised. Not ImageNet "
                  "weights; never commit it or report its accuracy.");
  cli.add("--partial", &partial, "PATH", "a partial engine-format VGG16 file");
  cli.add("--out", &out, "PATH", "the file to write");
  cli.add("--seed", &seed, "S", "seed of the He initialisation");
  if (!cli.parse(argc, argv)) return 0;
  if (out.empty()) throw UsageError("--out PATH is required");
  write_synthetic_complete_weights(partial, out, static_cast<uint64_t>(seed));
  std::cout << "wrote " << out << " (13 of 13 conv layers; "
            << (holds_all_imagenet_layers(out) ? "complete" : "NOT complete") << ", synthetic)\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return run_tool_main("synthetic_weights", synthetic_weights_main, argc, argv);
}
