// Fuzz target: the Keras HDF5 reader (weights/keras_h5.h). The file format itself is parsed by
// the HDF5 C library (Debian's, not instrumented here); this target checks the engine's side:
// what it asks of the library and how it checks what comes back.
#include <cstdint>

#include "fuzz/fuzz_input.h"
#include "kernels/common/error.h"
#include "weights/keras_h5.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = busi::fuzz::input_file(data, size, ".h5");
  try {
    busi::weights::read_keras_conv_layers(path, {"block1_conv1", "block1_conv2"});
  } catch (const busi::Error&) {
  }
  return 0;
}
