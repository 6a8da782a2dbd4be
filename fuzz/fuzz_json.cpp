// Fuzz target: the engine's one JSON parser (weights/json.h) in both modes: strict (safetensors
// headers) and full JSON (the tools' config.json and metrics.json).
#include <cstdint>
#include <string_view>

#include "kernels/common/error.h"
#include "weights/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  namespace json = busi::weights::json;
  for (bool full : {false, true}) {
    json::ParseOptions options;
    options.full_json = full;
    try {
      json::parse(text, "input", options);
    } catch (const busi::Error&) {
    }
  }
  return 0;
}
