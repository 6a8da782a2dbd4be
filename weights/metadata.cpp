// preprocessing_of() of metadata.h.
#include "weights/metadata.h"

namespace busi::weights {

std::string preprocessing_of(const std::map<std::string, std::string>& metadata) {
  const auto it = metadata.find(kPreprocessingKey);
  if (it == metadata.end()) return "";
  const std::string& value = it->second;
  for (const char* name : {kImagenetTorch, kImagenetCaffe}) {
    const std::string n = name;
    // The name alone, or followed by a separator and details ("imagenet-torch: RGB, x/255, ...").
    if (value.compare(0, n.size(), n) == 0 &&
        (value.size() == n.size() || value[n.size()] == ':' || value[n.size()] == ' '))
      return n;
  }
  return value;
}

}  // namespace busi::weights
