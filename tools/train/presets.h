// Presets: named sets of flag values (cpu-quick, gpu-full) that fill in the flags the user did not
// give, chosen by the device when --preset is auto, and listed by --help.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "engine/device.h"
#include "tools/cli/command_line.h"

namespace busi::tools {

// A named set of flag values, applied to the flags the user did not give.
struct Preset {
  std::string name;
  std::vector<std::pair<std::string, std::string>> values;  // flag -> value
};

// The presets as --help shows them, made from the presets themselves so the two cannot drift:
//   presets (values for the flags not given):
//     cpu-quick  --img-size 96 --epochs 80 --lr 0.002 --patience 20
std::string presets_help(const std::vector<Preset>& presets);

// Applies the preset called `preset` to the flags not given (and not set by a stronger source).
// "auto" becomes gpu-full on a GPU and cpu-quick otherwise, with one line saying which and why;
// `preset` is then the name chosen. Throws busi::Error when no preset has that name.
void apply_preset(CommandLine& cli, std::string& preset, const std::vector<Preset>& presets,
                  Device device);

}  // namespace busi::tools
