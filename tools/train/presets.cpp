// Presets: their --help text and choosing and applying one (see presets.h).
#include "tools/train/presets.h"

#include <algorithm>
#include <iostream>

#include "kernels/common/error.h"

namespace busi::tools {

std::string presets_help(const std::vector<Preset>& presets) {
  std::string text = "presets (values for the flags not given):\n";
  size_t width = 0;
  for (const Preset& p : presets) width = std::max(width, p.name.size());
  const std::string indent(2 + width + 2, ' ');  // where a wrapped line of flags continues
  for (const Preset& p : presets) {
    // One line per preset, wrapped below 100 columns under the first flag.
    std::string line = "  " + p.name + std::string(width - p.name.size() + 2, ' ');
    bool first = true;
    for (const auto& [flag, value] : p.values) {
      const std::string item = flag + " " + value;
      if (!first && line.size() + 1 + item.size() > 99) {
        text += line + "\n";
        line = indent;
        first = true;
      }
      line += (first ? "" : " ") + item;
      first = false;
    }
    text += line + "\n";
  }
  return text;
}

void apply_preset(CommandLine& cli, std::string& preset, const std::vector<Preset>& presets,
                  Device device) {
  if (preset == "auto") {
    const std::string chosen = device.is_cuda() ? "gpu-full" : "cpu-quick";
    std::cout << "preset: " << chosen << " (chosen automatically: "
              << (device.is_cuda() ? "training on the GPU" : "no GPU in use, training on the CPU")
              << "; --preset gives another)\n";
    preset = chosen;
  } else {
    std::cout << "preset: " << preset << "\n";
  }
  const auto found = std::find_if(presets.begin(), presets.end(),
                                  [&](const Preset& p) { return p.name == preset; });
  BUSI_CHECK(found != presets.end(), "no preset named '", preset, "'");
  for (const auto& [flag, value] : found->values) cli.set_if_not_given(flag, value);
}

}  // namespace busi::tools
