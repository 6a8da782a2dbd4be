// Fuzz target: the split CSV (data/split.h: path,class,subset), read against a small index of
// two classes and six images, as --split-csv reads a colleague's file.
#include <cstdint>

#include "data/dataset.h"
#include "data/split.h"
#include "fuzz/fuzz_input.h"
#include "kernels/common/error.h"

namespace {
busi::data::DatasetIndex make_index() {
  busi::data::DatasetIndex index;
  index.root = "data";
  index.classes = {"benign", "malignant"};
  for (int label = 0; label < 2; ++label)
    for (int i = 0; i < 3; ++i) {
      busi::data::Sample s;
      s.relative_path = index.classes[label] + "/" + index.classes[label] + " (" +
                        std::to_string(i + 1) + ").png";
      s.path = index.root + "/" + s.relative_path;
      s.label = label;
      s.height = s.width = 8;
      s.channels = 1;
      index.samples.push_back(s);
    }
  return index;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const busi::data::DatasetIndex index = make_index();
  const std::string& path = busi::fuzz::input_file(data, size, ".csv");
  try {
    busi::data::read_split_csv(path, index);
  } catch (const busi::Error&) {
  }
  return 0;
}
