// Fuzz target: checkpoint metadata (a safetensors file whose __metadata__ holds the run's state:
// weights/checkpoint.h, and the training loop's own fields: tools/train/run_checkpoint.h).
#include <cstdint>

#include "fuzz/fuzz_input.h"
#include "kernels/common/error.h"
#include "tools/train/run_checkpoint.h"
#include "weights/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = busi::fuzz::input_file(data, size, ".safetensors");
  try {
    busi::weights::read_checkpoint_info(path);
  } catch (const busi::Error&) {
  }
  try {
    busi::tools::read_checkpoint_metadata(path);
  } catch (const busi::Error&) {
  }
  return 0;
}
