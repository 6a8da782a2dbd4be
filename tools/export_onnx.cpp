// export_onnx: a checkpoint of train_simple or finetune_vgg (or the fold models of a
// cross-validated comparison, as one averaged graph or one file each) as an ONNX model that
// ONNX Runtime, a browser or another language can run without this engine: the image's pixel
// values 0..255 in, the normalisation, network, temperature and softmax in the graph, calibrated
// probabilities out, with the class names, threshold and provenance in its metadata.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "tools/cli/command_line.h"
#include "tools/cli/tool_main.h"
#include "tools/export/separate_folds.h"
#include "tools/predict/classifier.h"
#include "tools/export/onnx_graph.h"
#include "tools/formats/json_value.h"
#include "tools/run_folder/compare_plan.h"
#include "weights/atomic_file.h"

using namespace busi;
using namespace busi::tools;

namespace {

namespace fs = std::filesystem;

constexpr const char* kEpilog = R"EPILOG(The file holds one graph (ONNX opset 17):
  input  'image'          float32 (N, C, S, S): the image resized to S x S, pixel values 0..255
                          (C = 1 grey or 3 RGB, as the checkpoint was trained)
  output 'probabilities'  (N, classes): softmax(logits / T), calibrated as predict prints them
                          (for a compare folder: the mean over its fold models)
  output 'logits'         (N, classes): the network's logits (one checkpoint only)
The normalisation the model was trained with is part of the graph; dropout is left out (the
identity at inference) and batch norm uses its running statistics. metadata_props hold
class_names, input_size, input_channels, normalization, temperature, malignant_threshold,
model, architecture, imagenet_weights, training_commit, training_data, checkpoint, epoch.

Resize as the engine does (area averaging when shrinking, bilinear when enlarging) to get
predict's numbers to 1e-5; another resize gives slightly different probabilities.

Examples:
  export_onnx --checkpoint runs/simple/best.safetensors --out simple.onnx
  export_onnx --checkpoint runs/compare-x --model vgg16 --out vgg16_folds.onnx
  python3 -c "import onnxruntime as ort, numpy as np; from PIL import Image; \
s = ort.InferenceSession('simple.onnx', providers=['CPUExecutionProvider']); m = s.get_modelmeta().custom_metadata_map; \
S = int(m['input_size']); x = np.asarray(Image.open('img.png').convert('L').resize((S, S), \
Image.BOX), np.float32)[None, None]; print(m['class_names'], s.run(['probabilities'], {'image': x})[0])"
  node -e "const ort = require('onnxruntime-node'); (async () => { \
const s = await ort.InferenceSession.create('simple.onnx'); const S = 64; \
const x = new ort.Tensor('float32', new Float32Array(S * S).fill(128), [1, 1, S, S]); \
console.log((await s.run({image: x})).probabilities.data); })()")EPILOG";

// "<out without .onnx>_fold<k>.onnx": the file of fold k with --separate.
std::string fold_file(const std::string& out, size_t k) {
  fs::path p(out);
  std::string name = p.stem().string();
  name += "_fold" + std::to_string(k);
  name += p.extension().empty() ? std::string(".onnx") : p.extension().string();
  return (p.parent_path() / name).string();
}

// Fails before the models are loaded when a file cannot be written there (a missing folder,
// no permission): the same temporary file the write uses, removed again.
void check_writable(const std::string& path) {
  BUSI_CHECK(!fs::is_directory(path), "--out '", path, "' is a folder; give a file name");
  weights::AtomicFile probe(path);
}

void export_one(const Classifier& source, const std::string& out) {
  const onnx::ModelProto model = build_onnx_model(source);
  write_onnx_model(model, out);
  const LoadedModel& m = source.first();
  std::string classes;
  for (const std::string& name : m.class_names) {
    if (!classes.empty()) classes += ", ";
    classes += name;
  }
  std::printf("wrote %s (%.1f MB): %s\n", out.c_str(),
              static_cast<double>(fs::file_size(out)) / 1e6, source.source.c_str());
  std::printf(
      "  input 'image' (N, %lld, %lld, %lld) pixel values 0..255, %s normalisation in "
      "the graph; output 'probabilities' (N, %zu): %s\n",
      static_cast<long long>(m.channels), static_cast<long long>(m.img_size),
      static_cast<long long>(m.img_size), m.normalization.name.c_str(), m.class_names.size(),
      classes.c_str());
  std::string calibration = m.temperature ? "temperature " + json_number(*m.temperature)
                                          : std::string("no temperature (uncalibrated)");
  if (source.ensemble) calibration = "each fold model's own temperature";
  std::printf("  %s; malignant threshold %s\n", calibration.c_str(),
              source.malignant_threshold ? json_number(*source.malignant_threshold).c_str()
                                         : "none recorded");
}

int run(int argc, char** argv) {
  std::string checkpoint, model_flag, out = "model.onnx";
  bool separate = false;
  CommandLine cli("export_onnx",
                  "Exports a checkpoint of train_simple or finetune_vgg, or the fold models of "
                  "a cross-validated comparison, as an ONNX model: image pixel values in, "
                  "calibrated class probabilities out, normalisation and temperature in the "
                  "graph, class names, threshold and provenance in its metadata.");
  add_classifier_flags(cli, &checkpoint, &model_flag);
  cli.add("--out", &out, "FILE", "the .onnx file to write (replaced atomically)");
  cli.add_switch("--separate", &separate,
                 "with a compare folder: one file per fold model, FILE's name + _fold<k>, "
                 "instead of one graph averaging them");
  cli.set_epilog(kEpilog);
  if (!cli.parse(argc, argv)) return 0;
  if (checkpoint.empty()) throw UsageError("--checkpoint PATH is required (see --help)");
  if (out.empty()) throw UsageError("--out FILE must not be empty");
  if (separate && !is_compare_folder(checkpoint))
    throw UsageError("--separate goes with a compare folder; " + checkpoint + " is not one");

  check_writable(out);
  const Classifier source = load_classifier(checkpoint, model_flag, Device::cpu());
  if (!separate) {
    export_one(source, out);
    return 0;
  }
  const std::vector<Classifier> folds = separate_folds(source);
  for (size_t k = 0; k < folds.size(); ++k) export_one(folds[k], fold_file(out, k + 1));
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return run_tool_main("export_onnx", run, argc, argv); }
