// Fuzz target: the safetensors reader (weights/safetensors.h): header validation against the
// file size, then every tensor read as float32.
#include <cstdint>

#include "fuzz/fuzz_input.h"
#include "kernels/common/error.h"
#include "weights/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = busi::fuzz::input_file(data, size, ".safetensors");
  try {
    busi::weights::SafetensorsFile file(path);
    for (const busi::weights::TensorEntry& e : file.entries()) file.read_vector(e.name);
  } catch (const busi::Error&) {
  }
  return 0;
}
