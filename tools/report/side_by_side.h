// The two runs' facts side by side, as both renderings (HTML, Markdown) show them: the models and
// their cost, the environment each ran in, and every setting of config.json.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tools/report/comparison.h"

namespace busi::tools {

// Facts shown side by side: (name, (value for A, value for B)).
using FactRows = std::vector<std::pair<std::string, std::pair<std::string, std::string>>>;

// Parameters, preset, epochs, best epoch, training time, throughput, test images, device.
FactRows model_facts(const Comparison& c);

// Device, GPU, git commit, compiler, CUDA, start time, host, run folder.
FactRows environment_facts(const Comparison& c);

struct SettingRow {
  std::string key, a, b;  // kDash where a run has no such setting
};

// The union of both runs' settings, in the first run's order, then the second's extra keys.
std::vector<SettingRow> setting_rows(const Comparison& c);

}  // namespace busi::tools
