// Fuzz target: PyTorch checkpoints (weights/torch_checkpoint.h), both the zip and the legacy
// container, through the restricted unpickler.
#include <cstdint>

#include "fuzz/fuzz_input.h"
#include "kernels/common/error.h"
#include "weights/torch_checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    busi::weights::read_torch_checkpoint(busi::fuzz::bytes(data, size), "input");
  } catch (const busi::Error&) {
  }
  return 0;
}
