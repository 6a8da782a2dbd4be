// export_onnx checked by the real runtime: tiny SimpleCNN and VGG16 checkpoints trained here on
// BUSI images are exported and run in ONNX Runtime (onnxruntime-node, tests/js/run_onnx.js), fed
// exactly the resized 0..255 pixels the engine's own decode and resize produce, so that the graph
// is the only difference; their probabilities must equal predict's (and the engine's in-process
// logits) within 1e-5. The ONNX checker (Debian's python3-onnx) passes on each file, and the
// metadata carries class names, threshold and temperature. Also: the Caffe preprocessing (BGR,
// no scaling), a fold ensemble as one graph and as K files, and clear errors. A real run's
// checkpoint can be checked too: BUSI_ONNX_CHECKPOINT=runs/x/best.safetensors test_export_onnx.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <unistd.h>

#include "data/image.h"
#include "tests/tool_runner.h"
#include "models/simple_cnn.h"
#include "tools/export/onnx_builder.h"
#include "tools/export/onnx_network.h"
#include "tools/formats/csv.h"
#include "tools/formats/json_value.h"
#include "tools/train/checkpoint_model.h"
#include "tools/train/ensemble.h"
#include "tools/train/run_checkpoint.h"
#include "tools/train/run_config.h"

using namespace busi;
using namespace busi::tools;
namespace fs = std::filesystem;

namespace {

const std::string kBusi = std::string(BUSI_SHARED_DIR) + "/busi";
const std::string& kTools = test::kToolsDir;
const std::string kJs = std::string(BUSI_SOURCE_DIR) + "/tests/js";
// Debian's python3 with python3-onnx (a pyenv python3 earlier in PATH may lack onnx).
const std::string kPython = "/usr/bin/python3";
constexpr double kTolerance = 1e-5;  // |ORT - engine| per probability

std::string quote(const std::string& s) { return test::shell_quote(s); }

// The scratch folder and the tool runner of tests/tool_runner.h, for this file.
const fs::path& scratch() { return test::scratch_folder("test_export_onnx"); }
using RunResult = test::ToolRun;
RunResult run_command(const std::string& line) { return test::run_command(scratch(), line); }
RunResult run_tool(const std::string& tool, const std::string& args) {
  return test::run_tool(scratch(), tool, args);
}

// What the runtime side needs: node, onnxruntime-node in tests/js/node_modules (installed by
// scripts/install_deps.sh) and the ONNX checker. Missing, the test fails: CI installs them.
bool runtime_ready() {
  bool ok = true;
  if (run_command("node --version").exit_code != 0) {
    FAIL("node is not installed (scripts/install_deps.sh installs nodejs)");
    ok = false;
  }
  if (!fs::is_directory(kJs + "/node_modules/onnxruntime-node")) {
    FAIL(kJs << "/node_modules/onnxruntime-node is missing: run scripts/install_deps.sh "
                "(npm ci --ignore-scripts in tests/js)");
    ok = false;
  }
  if (run_command(kPython + " -c 'import onnx'").exit_code != 0) {
    FAIL(kPython << " cannot import onnx: install python3-onnx (scripts/install_deps.sh)");
    ok = false;
  }
  return ok;
}

bool ready() {
  if (!runtime_ready()) return false;
  for (const char* tool : {"export_onnx", "predict", "train_simple", "finetune_vgg"})
    if (!fs::exists(kTools + tool)) {
      FAIL("build the tool first: " << kTools << tool << " is missing");
      return false;
    }
  if (!fs::is_directory(kBusi)) {
    MESSAGE("skipped: no BUSI images at " << kBusi);
    return false;
  }
  return true;
}

// A tiny run of `tool` (6 images per class, 32 px, one epoch: seconds), trained once per
// (tool, seed); returns its best checkpoint.
std::string trained_checkpoint(const std::string& tool, int seed = 42) {
  const std::string dir = (scratch() / (tool + "_seed" + std::to_string(seed))).string();
  if (!fs::exists(dir + "/best.safetensors")) {
    const RunResult r = run_tool(tool,
                                 "--limit-per-class 6 --img-size 32 --epochs 1 --device cpu "
                                 "--workers 1 --seed " +
                                     std::to_string(seed) + " --out " + quote(dir));
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
  }
  return dir + "/best.safetensors";
}

// The first two images of each class folder by name, never a mask (this copy has none; a user's
// copy of the original release has them beside the images).
std::vector<std::string> test_images() {
  std::vector<std::string> files;
  for (const char* cls : {"benign", "malignant", "normal"}) {
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(kBusi + "/" + cls)) {
      const std::string name = entry.path().filename().string();
      if (entry.path().extension() == ".png" && name.find("_mask") == std::string::npos)
        found.push_back(entry.path().string());
    }
    std::sort(found.begin(), found.end());
    REQUIRE_MESSAGE(found.size() >= 2, kBusi << "/" << cls << ": fewer than two images");
    files.insert(files.end(), found.begin(), found.begin() + 2);
  }
  return files;
}

// The images as the model's input before normalisation: the engine's own decode (to C channels)
// and resize to S x S, pixel values 0..255 as float32, laid out (N, C, S, S), written raw.
std::string write_pixels(const std::vector<std::string>& images, int64_t C, int64_t S,
                         const std::string& name) {
  std::vector<float> values;  // (N, C, S, S)
  for (const std::string& path : images) {
    const data::Image resized = data::resize_image(data::decode_image_file(path, C), S, S);
    for (int64_t c = 0; c < C; ++c)
      for (int64_t y = 0; y < S; ++y)
        for (int64_t x = 0; x < S; ++x) values.push_back(static_cast<float>(resized.at(y, x, c)));
  }
  const std::string file = (scratch() / (name + ".f32")).string();
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(values.data()),
            static_cast<std::streamsize>(values.size() * sizeof(float)));
  REQUIRE(out.good());
  return file;
}

// ONNX Runtime's outputs for the images: {"probabilities": {"data": [[...]]}, "logits": ...}.
Json run_onnx(const std::string& model, const std::string& pixels, size_t n, int64_t C, int64_t S) {
  std::string args = quote(model) + " " + quote(pixels) + " " + std::to_string(n);
  for (int64_t d : {C, S, S}) {
    args += ' ';
    args += std::to_string(d);
  }
  const RunResult r = run_command("node " + quote(kJs + "/run_onnx.js") + " " + args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return parse_json(r.out, "run_onnx.js");
}

// The ONNX checker (full_check: shapes inferred through the graph too) and the metadata.
Json checked_metadata(const std::string& model) {
  const std::string script =
      "import json, onnx, sys; m = onnx.load(sys.argv[1]); "
      "onnx.checker.check_model(m, full_check=True); "
      "print(json.dumps({p.key: p.value for p in m.metadata_props} | "
      "{'producer_name': m.producer_name, 'doc_string': m.doc_string, "
      "'opset': m.opset_import[0].version}))";
  const RunResult r = run_command(kPython + " -c \"" + script + "\" " + quote(model));
  INFO(r.err);
  REQUIRE_MESSAGE(r.exit_code == 0, "the ONNX checker refused " << model);
  return parse_json(r.out, model + " metadata");
}

// predict --csv's probabilities, one row per image (columns prob_<class>, in class order).
std::vector<std::vector<double>> predict_probabilities(const std::string& checkpoint_args,
                                                       const std::vector<std::string>& images) {
  std::string args = "--csv --device cpu " + checkpoint_args;
  for (const std::string& image : images) {
    args += ' ';
    args += quote(image);
  }
  const RunResult r = run_tool("predict", args);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const CsvTable table = parse_csv(r.out, "predict --csv");
  REQUIRE(table.rows.size() == images.size());
  std::vector<std::vector<double>> probs(images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    CHECK(table.rows[i][0] == images[i]);
    for (size_t c = 2; c < table.header.size(); ++c) probs[i].push_back(table.number(i, c));
  }
  return probs;
}

// The largest |a - b| over the rows; each row must have the same width.
double max_difference(const Json& ort_rows, const std::vector<std::vector<double>>& engine) {
  REQUIRE(ort_rows.size() == engine.size());
  double worst = 0.0;
  for (size_t i = 0; i < engine.size(); ++i) {
    REQUIRE(ort_rows[i].size() == engine[i].size());
    for (size_t c = 0; c < engine[i].size(); ++c)
      worst = std::max(worst, std::abs(ort_rows[i][c].as_number() - engine[i][c]));
  }
  return worst;
}

struct Exported {
  Json ort;   // ONNX Runtime's outputs on the images
  Json meta;  // the file's metadata_props, producer_name, doc_string, opset
};

// Exports, checks the file and its metadata, runs it in ONNX Runtime on the images and compares
// its probabilities with predict's.
Exported export_and_compare(const std::string& label, const std::string& export_args,
                            const std::string& predict_args, const std::string& onnx,
                            const LoadedModel& m, const std::vector<std::string>& images) {
  {
    const RunResult exported = run_tool("export_onnx", export_args + " --out " + quote(onnx));
    INFO(exported.out << exported.err);
    REQUIRE(exported.exit_code == 0);
    CHECK(exported.out.find("wrote " + onnx) != std::string::npos);
  }
  Exported e;
  e.meta = checked_metadata(onnx);
  const Json& meta = e.meta;
  CHECK(meta.at("producer_name").as_string() == "busi-engine");
  CHECK(meta.at("opset").as_int() >= 17);
  CHECK(parse_json(meta.at("class_names").as_string()).dump(0) == Json(m.class_names).dump(0));
  CHECK(meta.at("input_size").as_string() == std::to_string(m.img_size));
  CHECK(meta.at("input_channels").as_string() == std::to_string(m.channels));
  CHECK(meta.contains("malignant_threshold"));
  CHECK(meta.contains("temperature"));
  CHECK(meta.contains("normalization"));
  CHECK(meta.contains("imagenet_weights"));
  CHECK(meta.at("doc_string").as_string().find("not a diagnostic device") != std::string::npos);

  const std::string pixels = write_pixels(images, m.channels, m.img_size, label);
  e.ort = run_onnx(onnx, pixels, images.size(), m.channels, m.img_size);
  const double d = max_difference(e.ort.at("probabilities").at("data"),
                                  predict_probabilities(predict_args, images));
  MESSAGE(label << ": max |ONNX Runtime - predict| over " << images.size() << " images x "
                << m.class_names.size() << " classes = " << d);
  CHECK(d <= kTolerance);
  return e;
}

// One model's ORT outputs against the engine in this process: the logits output against the
// network's forward pass (relative to the logit's size: float32 sums of thousands of products
// in another order), the probabilities against ensemble.h's member_probabilities (predict's).
void compare_in_process(const std::string& label, const Json& ort, const LoadedModel& m,
                        const std::vector<std::string>& images) {
  const Json& logits = ort.at("logits").at("data");
  const Json& probs = ort.at("probabilities").at("data");
  REQUIRE(logits.size() == images.size());
  double worst_logit = 0.0, worst_prob = 0.0;
  for (size_t i = 0; i < images.size(); ++i) {
    const data::Image decoded = data::decode_image_file(images[i], m.channels);
    const std::vector<float> z =
        m.head(m.features(prepare_input(m, decoded, Device::cpu()))).to_vector();
    const std::vector<double> p = member_probabilities(m, decoded, Device::cpu(), false);
    REQUIRE(logits[i].size() == z.size());
    for (size_t c = 0; c < z.size(); ++c) {
      worst_logit = std::max(worst_logit, std::abs(logits[i][c].as_number() - z[c]) /
                                              std::max(1.0, std::abs(double(z[c]))));
      worst_prob = std::max(worst_prob, std::abs(probs[i][c].as_number() - p[c]));
    }
  }
  MESSAGE(label << ": max relative |ONNX Runtime - engine| logit " << worst_logit
                << ", max |difference| of probabilities " << worst_prob);
  CHECK(worst_logit <= 1e-5);
  CHECK(worst_prob <= kTolerance);
}

}  // namespace

TEST_CASE("the ONNX Runtime side of the tests is installed") { CHECK(runtime_ready()); }

TEST_CASE("export: SimpleCNN's graph holds its forward pass in evaluation mode, and no more") {
  models::SimpleCNNConfig config;
  config.width = 4;
  config.blocks = 3;
  models::SimpleCNN model(config);
  model.eval();
  onnx::ModelProto proto;
  OnnxGraph g(proto.mutable_graph());
  g.input("x", {-1, 1, 16, 16}, "normalised image");
  emit_network(g, model, "x", "logits", "m/", "a test model");
  std::map<std::string, int> ops;
  for (const onnx::NodeProto& n : proto.graph().node()) ++ops[n.op_type()];
  // 3 blocks of conv -> batch norm -> ReLU, a pool between blocks and one in the head, then
  // global average pooling, flatten and the linear layer; dropout has no node.
  CHECK(ops == std::map<std::string, int>{{"Conv", 3},
                                          {"BatchNormalization", 3},
                                          {"Relu", 3},
                                          {"MaxPool", 3},
                                          {"GlobalAveragePool", 1},
                                          {"Flatten", 1},
                                          {"Gemm", 1}});
  CHECK(proto.graph().node(proto.graph().node_size() - 1).output(0) == "logits");
  CHECK(proto.graph().node(0).name().rfind("m/", 0) == 0);
  // Weights: 3 conv (no bias: the batch norm follows), 4 per batch norm, the linear's 2.
  CHECK(proto.graph().initializer_size() == 3 + 3 * 4 + 2);
}

TEST_CASE("export: a layer the exporter does not know is an error, never left out") {
  // A SimpleCNN that gained a layer its forward pass would use: the exporter cannot know where.
  struct ChangedCNN : models::SimpleCNN {
    explicit ChangedCNN(const models::SimpleCNNConfig& c) : SimpleCNN(c) {
      register_module("extra_pool", std::make_shared<nn::MaxPool2d>(2));
    }
  };
  models::SimpleCNNConfig config;
  config.width = 4;
  ChangedCNN model(config);
  model.eval();
  onnx::ModelProto proto;
  OnnxGraph g(proto.mutable_graph());
  CHECK_THROWS_WITH_AS(
      emit_network(g, model, "x", "logits", "", "model.safetensors"),
      doctest::Contains(
          "model.safetensors: layer 'extra_pool' (busi::nn::MaxPool2d) is not known to the ONNX "
          "exporter"),
      Error);
  model.train();  // batch norm would use batch statistics, dropout would drop
  CHECK_THROWS_WITH_AS(emit_network(g, model, "x", "logits", "", "model.safetensors"),
                       doctest::Contains("training mode"), Error);
}

TEST_CASE("export_onnx: ONNX Runtime reproduces predict on BUSI images, SimpleCNN and VGG16") {
  for (const std::string tool : {"train_simple", "finetune_vgg"}) {
    CAPTURE(tool);
    if (!ready()) return;
    const std::string checkpoint = trained_checkpoint(tool);
    const LoadedModel m = load_model(checkpoint, Device::cpu());
    REQUIRE(m.temperature.has_value());  // the tiny runs calibrate too: the Div by T is exercised
    const std::vector<std::string> images = test_images();
    const std::string onnx = (scratch() / (m.name + ".onnx")).string();
    const Exported e = export_and_compare(m.name, "--checkpoint " + quote(checkpoint),
                                          "--checkpoint " + quote(checkpoint), onnx, m, images);
    compare_in_process(m.name, e.ort, m, images);
    const Json& meta = e.meta;
    if (m.name == "vgg16") {
      CHECK(meta.at("imagenet_weights").as_string().find("of 13 conv layers") != std::string::npos);
    } else {
      CHECK(meta.at("imagenet_weights").as_string().find("from scratch") != std::string::npos);
    }
    CHECK(std::stod(meta.at("temperature").as_string()) == doctest::Approx(*m.temperature));
    CHECK(std::stod(meta.at("malignant_threshold").as_string()) ==
          doctest::Approx(*m.malignant_threshold));
    CHECK(meta.at("training_commit").as_string().size() >= 7);
  }
}

TEST_CASE("export_onnx: the Caffe preprocessing (BGR order, 0..255 minus the means) in the graph") {
  if (!ready()) return;
  // The shared weight file is torchvision's (RGB, / 255, mean and std); the Keras/Caffe one is
  // not here. The VGG16 checkpoint with its normalisation set to imagenet-caffe tests the
  // Gather of the channels and the path without scaling or std: predict applies it as written.
  const std::string trained = trained_checkpoint("finetune_vgg");
  const std::string caffe = (scratch() / "vgg16_caffe.safetensors").string();
  {
    const LoadedModel m = load_model(trained, Device::cpu());
    RunCheckpoint c = load_checkpoint(trained, *m.module, m.name);
    c.info.settings["normalization"] =
        normalization_to_json(data::Normalization::imagenet_caffe()).dump(0);
    rewrite_checkpoint(caffe, *m.module, c);
  }
  const LoadedModel m = load_model(caffe, Device::cpu());
  REQUIRE(m.normalization.bgr);
  const std::string onnx = (scratch() / "vgg16_caffe.onnx").string();
  const std::string args = "--checkpoint " + quote(caffe);
  const std::vector<std::string> images = test_images();
  const Exported e = export_and_compare("vgg16 (imagenet-caffe)", args, args, onnx, m, images);
  // Its probabilities are near 0 and 1 (inputs of +-120 into filters made for +-2): the logits
  // are what tell a wrong channel order or offset.
  compare_in_process("vgg16 (imagenet-caffe)", e.ort, m, images);
}

TEST_CASE("export_onnx: a compare folder's fold models as one averaged graph, or one file each") {
  if (!ready()) return;
  // A compare folder made by hand, as test_predict does: fold 1 is one tiny SimpleCNN run,
  // fold 2 another with another seed (their dataset normalisations differ too).
  const std::string a = trained_checkpoint("train_simple", 42);
  const std::string b = trained_checkpoint("train_simple", 7);
  const fs::path cv = scratch() / "cv_folder";
  for (int k = 1; k <= 2; ++k) {
    const fs::path dir = cv / "repeat1" / ("fold" + std::to_string(k)) / "simple_cnn";
    fs::create_directories(dir);
    fs::copy_file(k == 1 ? a : b, dir / "best.safetensors", fs::copy_options::overwrite_existing);
  }
  {
    std::ofstream plan(cv / "compare.json");
    plan << R"({"kind": "cross-validation", "folds": 2, "repeats": 1, "seed": 42,)"
         << R"( "models": ["simple_cnn", "vgg16"], "flags": {}})";
  }
  const Ensemble e = load_ensemble(cv.string(), "simple_cnn", Device::cpu());
  const std::vector<std::string> images = test_images();
  const std::string args = "--checkpoint " + quote(cv.string()) + " --model simple_cnn";
  const std::string onnx = (scratch() / "ensemble.onnx").string();
  const Exported exported =
      export_and_compare("simple_cnn ensemble of 2", args, args, onnx, e.members[0], images);
  CHECK_FALSE(exported.ort.contains("logits"));  // one per member: not an output of the mean
  const Json& meta = exported.meta;
  CHECK(meta.at("ensemble").as_string().find("the 2 SimpleCNN fold models") != std::string::npos);
  // Two normalisations: one entry per fold model. The temperatures are one entry each too, or a
  // single value when both are equal (tiny runs can both end at the fit's upper bound, 20).
  CHECK(parse_json(meta.at("normalization").as_string()).size() == 2);
  const Json temperatures = parse_json(meta.at("temperature").as_string());
  REQUIRE(e.members[0].temperature);
  REQUIRE(e.members[1].temperature);
  if (*e.members[0].temperature == *e.members[1].temperature)
    CHECK(temperatures.as_number() == doctest::Approx(*e.members[0].temperature));
  else
    CHECK(temperatures.size() == 2);
  CHECK(std::stod(meta.at("malignant_threshold").as_string()) ==
        doctest::Approx(*e.malignant_threshold));

  // --separate: fold k's own model in <out>_fold<k>.onnx, equal to predict on its checkpoint.
  const std::string stem = (scratch() / "folds.onnx").string();
  const RunResult r = run_tool("export_onnx", args + " --separate --out " + quote(stem));
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  for (int k = 1; k <= 2; ++k) {
    const std::string file = (scratch() / ("folds_fold" + std::to_string(k) + ".onnx")).string();
    REQUIRE_MESSAGE(fs::exists(file), file << " missing");
    checked_metadata(file);
    const LoadedModel& m = e.members[k - 1];
    const Json one = run_onnx(file, write_pixels(images, m.channels, m.img_size, "fold"),
                              images.size(), m.channels, m.img_size);
    const double d = max_difference(one.at("probabilities").at("data"),
                                    predict_probabilities("--checkpoint " + quote(m.path), images));
    MESSAGE("fold " << k << " alone: max |ONNX Runtime - predict| = " << d);
    CHECK(d <= kTolerance);
  }
}

TEST_CASE("export_onnx: clear errors for missing and bad checkpoints, unwritable outputs, flags") {
  if (!fs::exists(kTools + "export_onnx")) {
    FAIL("build the tool first: " << kTools << "export_onnx is missing");
    return;
  }
  const std::string out = " --out " + quote((scratch() / "x.onnx").string());
  const std::string missing = (scratch() / "no_such.safetensors").string();
  const RunResult none = run_tool("export_onnx", "--checkpoint " + quote(missing) + out);
  CHECK(none.exit_code == 1);
  CHECK(none.err.find(missing) != std::string::npos);
  CHECK(none.err.find("no such file") != std::string::npos);

  const std::string text = (scratch() / "notes.safetensors").string();
  std::ofstream(text) << "not a checkpoint\n";
  const RunResult bad = run_tool("export_onnx", "--checkpoint " + quote(text) + out);
  CHECK(bad.exit_code == 1);
  CHECK(bad.err.find(text) != std::string::npos);
  CHECK(bad.err.find("export_onnx: error:") != std::string::npos);
  CHECK_FALSE(fs::exists(scratch() / "x.onnx"));

  const std::string nowhere = (scratch() / "no_folder" / "x.onnx").string();
  const RunResult unwritable =
      run_tool("export_onnx", "--checkpoint " + quote(text) + " --out " + quote(nowhere));
  CHECK(unwritable.exit_code == 1);
  CHECK(unwritable.err.find(nowhere) != std::string::npos);

  CHECK(run_tool("export_onnx", out).exit_code == 2);  // no --checkpoint
  const RunResult model_flag =
      run_tool("export_onnx", "--checkpoint " + quote(text) + " --model vgg16" + out);
  CHECK(model_flag.exit_code == 2);
  CHECK(model_flag.err.find("--model goes with a compare folder") != std::string::npos);
  const RunResult separate =
      run_tool("export_onnx", "--checkpoint " + quote(text) + " --separate" + out);
  CHECK(separate.exit_code == 2);

  const RunResult help = run_tool("export_onnx", "--help");
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("probabilities") != std::string::npos);
  CHECK(help.out.find("onnxruntime") != std::string::npos);
}

TEST_CASE("export_onnx on a checkpoint of one's own (BUSI_ONNX_CHECKPOINT, optional)") {
  // A real run's model (its image size, a fully trained network) checked the same way:
  //   BUSI_ONNX_CHECKPOINT=runs/x/best.safetensors build/tests/test_export_onnx
  const char* given = std::getenv("BUSI_ONNX_CHECKPOINT");
  if (given == nullptr || !ready()) return;
  std::string checkpoint = given;
  if (fs::is_directory(checkpoint)) checkpoint += "/best.safetensors";
  const LoadedModel m = load_model(checkpoint, Device::cpu());
  const std::vector<std::string> images = test_images();
  const std::string onnx = (scratch() / "given.onnx").string();
  const std::string args = "--checkpoint " + quote(checkpoint);
  const Exported e = export_and_compare(checkpoint, args, args, onnx, m, images);
  compare_in_process(checkpoint, e.ort, m, images);
}
