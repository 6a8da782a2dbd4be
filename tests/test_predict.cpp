// predict on BUSI images with checkpoints trained here (tiny runs): text and CSV output, Grad-CAM
// PNGs that decode to the image's size; and Grad-CAM itself on a case worked out by hand.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include "data/image.h"
#include "tests/tool_runner.h"
#include "engine/ops.h"
#include "tools/explain/gradcam.h"
#include "tools/formats/csv.h"
#include "tools/metrics/calibration.h"
#include "tools/train/run_checkpoint.h"

using namespace busi;
using namespace busi::tools;
namespace fs = std::filesystem;

namespace {

const std::string kBusi = std::string(BUSI_SHARED_DIR) + "/busi";
const std::string& kTools = test::kToolsDir;

// The scratch folder and the tool runner of tests/tool_runner.h, for this file.
const fs::path& scratch() { return test::scratch_folder("test_predict"); }
using RunResult = test::ToolRun;
RunResult run_tool(const std::string& tool, const std::string& args) {
  return test::run_tool(scratch(), tool, args);
}

// Trains a tiny model once per tool and returns its best checkpoint ("" when it failed).
std::string trained_checkpoint(const std::string& tool) {
  const std::string dir = (scratch() / tool).string();
  if (!fs::exists(dir + "/best.safetensors")) {
    const RunResult r = run_tool(tool,
                                 "--limit-per-class 6 --img-size 32 --epochs 1 --device cpu "
                                 "--workers 1 --out '" +
                                     dir + "'");
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
  }
  return fs::exists(dir + "/best.safetensors") ? dir + "/best.safetensors" : "";
}

bool ready(const std::string& tool) {
  if (!fs::is_directory(kBusi)) {
    MESSAGE("skipped: no BUSI images at " << kBusi);
    return false;
  }
  for (const std::string& t : {tool, std::string("predict")})
    if (!fs::exists(kTools + t)) {
      FAIL("build the tool first: " << kTools << t << " is missing");
      return false;
    }
  return true;
}

const std::string kBenign = kBusi + "/benign/benign (10).png";
const std::string kMalignant = kBusi + "/malignant/malignant (10).png";

}  // namespace

TEST_CASE("predict prints class and probabilities, CSV, and Grad-CAM PNGs of the image's size") {
  for (const std::string tool : {"train_simple", "finetune_vgg"}) {
    CAPTURE(tool);
    if (!ready(tool)) return;
    const std::string checkpoint = trained_checkpoint(tool);
    REQUIRE(!checkpoint.empty());
    const std::string images = " '" + kBenign + "' '" + kMalignant + "'";

    const RunResult text =
        run_tool("predict", "--checkpoint '" + checkpoint + "' --device cpu" + images);
    INFO(text.out << text.err);
    REQUIRE(text.exit_code == 0);
    CHECK(text.out.find(kBenign + ": ") != std::string::npos);
    CHECK(text.out.find("malignant 0.") != std::string::npos);

    const std::string cam_dir = (scratch() / (tool + "_cams")).string();
    const RunResult csv = run_tool("predict", "--csv --gradcam '" + cam_dir + "' --checkpoint '" +
                                                  checkpoint + "' --device cpu" + images);
    INFO(csv.out << csv.err);
    REQUIRE(csv.exit_code == 0);
    const CsvTable table = parse_csv(csv.out, "predict --csv");
    CHECK(table.header ==
          std::vector<std::string>{"path", "pred", "prob_benign", "prob_malignant", "prob_normal"});
    REQUIRE(table.rows.size() == 2);
    CHECK(table.rows[0][0] == kBenign);
    CHECK(table.rows[1][0] == kMalignant);
    for (size_t r = 0; r < 2; ++r)
      CHECK(table.number(r, 2) + table.number(r, 3) + table.number(r, 4) ==
            doctest::Approx(1.0).epsilon(1e-4));

    for (const char* name : {"benign (10)_gradcam.png", "malignant (10)_gradcam.png"}) {
      const std::string png = cam_dir + "/" + std::string(name);
      REQUIRE_MESSAGE(fs::exists(png), png << " missing");
      const data::Image overlay = data::decode_image_file(png, 3);
      const data::Image original = data::decode_image_file(kBenign, 1);
      CHECK(overlay.height == original.height);  // BUSI copies here are all one size
      CHECK(overlay.width == original.width);
    }
  }
}

TEST_CASE("predict on a compare folder: the fold models' probabilities averaged, flip optional") {
  if (!ready("train_simple")) return;
  // A compare folder of two folds made by hand: fold 1's SimpleCNN is one tiny run, fold 2's
  // another with another seed.
  const std::string a = trained_checkpoint("train_simple");
  REQUIRE(!a.empty());
  const fs::path other = scratch() / "train_simple_seed7";
  if (!fs::exists(other / "best.safetensors")) {
    const RunResult r = run_tool("train_simple",
                                 "--limit-per-class 6 --img-size 32 --epochs 1 --device cpu "
                                 "--workers 1 --seed 7 --out '" +
                                     other.string() + "'");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
  }
  const std::string b = (other / "best.safetensors").string();
  const fs::path cv = scratch() / "cv_folder";
  for (int k = 1; k <= 2; ++k) {
    fs::create_directories(cv / "repeat1" / ("fold" + std::to_string(k)) / "simple_cnn");
    fs::copy_file(k == 1 ? a : b,
                  cv / "repeat1" / ("fold" + std::to_string(k)) / "simple_cnn" / "best.safetensors",
                  fs::copy_options::overwrite_existing);
  }
  {
    std::ofstream plan(cv / "compare.json");
    plan << R"({"kind": "cross-validation", "folds": 2, "repeats": 1, "seed": 42,)"
         << R"( "models": ["simple_cnn", "vgg16"], "flags": {}})";
  }
  const std::string images = " '" + kBenign + "' '" + kMalignant + "'";
  const auto probabilities = [&](const std::string& args) {
    const RunResult r = run_tool("predict", "--csv --device cpu " + args + images);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    return parse_csv(r.out, "predict --csv");
  };
  const CsvTable one = probabilities("--checkpoint '" + a + "'");
  const CsvTable two = probabilities("--checkpoint '" + b + "'");
  const CsvTable both = probabilities("--checkpoint '" + cv.string() + "' --model simple_cnn");
  for (size_t r = 0; r < 2; ++r)
    for (size_t c = 2; c < 5; ++c)
      CHECK(both.number(r, c) ==
            doctest::Approx((one.number(r, c) + two.number(r, c)) / 2).epsilon(1e-6));
  // The text output says how many models voted.
  const RunResult text = run_tool(
      "predict", "--device cpu --model simple_cnn --checkpoint '" + cv.string() + "'" + images);
  CHECK(text.out.find("ensemble: the 2 SimpleCNN fold models of") != std::string::npos);
  // With --tta flip each model also sees the mirror image: other probabilities, still summing to 1.
  const CsvTable flipped =
      probabilities("--tta flip --checkpoint '" + cv.string() + "' --model simple_cnn");
  CHECK(flipped.number(0, 2) != both.number(0, 2));
  CHECK(flipped.number(0, 2) + flipped.number(0, 3) + flipped.number(0, 4) ==
        doctest::Approx(1.0).epsilon(1e-6));
  // A compare folder with two models needs --model; a missing fold is named.
  const RunResult ambiguous = run_tool("predict", "--checkpoint '" + cv.string() + "'" + images);
  CHECK(ambiguous.exit_code == 2);
  CHECK(ambiguous.err.find("choose one with --model") != std::string::npos);
  const RunResult missing =
      run_tool("predict", "--model vgg16 --checkpoint '" + cv.string() + "'" + images);
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("fold 1 has not finished") != std::string::npos);
}

TEST_CASE("predict on a VGG16 with a centred head gives the run's own test probabilities") {
  if (!ready("finetune_vgg")) return;
  // The running mean is a buffer of the checkpoint: predict must build the head with it and
  // subtract it, or its probabilities differ from those the run wrote for its test images.
  const std::string dir = (scratch() / "vgg_centred").string();
  const RunResult train = run_tool("finetune_vgg",
                                   "--limit-per-class 6 --img-size 32 --epochs 2 --device cpu "
                                   "--workers 1 --center-head on --out '" +
                                       dir + "'");
  INFO(train.out << train.err);
  REQUIRE(train.exit_code == 0);
  const CsvTable written = read_csv(dir + "/predictions.csv");
  REQUIRE(!written.rows.empty());
  const std::string image = kBusi + "/" + written.rows[0][written.require_column("path")];
  const RunResult r = run_tool("predict", "--csv --probabilities raw --checkpoint '" + dir +
                                              "/best.safetensors' --device cpu '" + image + "'");
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const CsvTable table = parse_csv(r.out, "predict --csv");
  REQUIRE(table.rows.size() == 1);
  for (const char* column : {"prob_benign", "prob_malignant", "prob_normal"})
    CHECK(table.number(0, table.require_column(column)) ==
          doctest::Approx(written.number(0, written.require_column(column))).epsilon(1e-4));
}

TEST_CASE("predict: clear errors for a missing checkpoint or image") {
  if (!fs::exists(kTools + "predict")) {
    FAIL("build predict first");
    return;
  }
  const RunResult r1 = run_tool("predict", "--checkpoint /no/best.safetensors '" + kBenign + "'");
  CHECK(r1.exit_code != 0);
  CHECK(r1.err.find("/no/best.safetensors") != std::string::npos);
  const RunResult r2 = run_tool("predict", "'" + kBenign + "'");
  CHECK(r2.exit_code == 2);
  CHECK(r2.err.find("--checkpoint") != std::string::npos);
}

TEST_CASE("Grad-CAM: channel weights are the mean gradients (worked example)") {
  // Two 2x2 channels; head = linear on the global average: logits_c = sum_k W[c][k] mean(A_k).
  // Then dy_c/dA_k = W[c][k] / 4 everywhere, so the weights are W[c][k] / 4 and the map is
  // ReLU(W[c][0] A_0 + W[c][1] A_1) / 4, scaled to a maximum of 1.
  const Tensor features = Tensor::from_vector({1, 2, 3, 4,  /* channel 0 */
                                               4, 0, 0, 1}, /* channel 1 */
                                              {1, 2, 2, 2});
  const Tensor weight = Tensor::from_vector({1.0f, -1.0f, 0.5f, 2.0f}, {2, 2});
  const auto head = [&](const Tensor& a) { return linear(global_avg_pool2d(a), weight); };

  const HeatMap class0 = grad_cam(features, head, 0);  // A_0 - A_1 = (-3, 2, 3, 3) -> (0, 2, 3, 3)
  REQUIRE(class0.values.size() == 4);
  CHECK(class0.height == 2);
  CHECK(class0.values[0] == doctest::Approx(0.0));
  CHECK(class0.values[1] == doctest::Approx(2.0 / 3.0));
  CHECK(class0.values[2] == doctest::Approx(1.0));
  CHECK(class0.values[3] == doctest::Approx(1.0));

  const HeatMap class1 = grad_cam(features, head, 1);  // 0.5 A_0 + 2 A_1 = (8.5, 1, 1.5, 4)
  CHECK(class1.values[0] == doctest::Approx(1.0));
  CHECK(class1.values[1] == doctest::Approx(1.0 / 8.5));
  CHECK(class1.values[3] == doctest::Approx(4.0 / 8.5));
}

TEST_CASE("Grad-CAM maps: bilinear resize and the coloured overlay") {
  const HeatMap ramp{1, 2, {0.0f, 1.0f}};
  const HeatMap wide = resize_heat_map(ramp, 1, 4);
  // Pixel centres at 0.5, 1.5, 2.5, 3.5 map to source -0.25, 0.25, 0.75, 1.25 (clamped).
  REQUIRE(wide.values.size() == 4);
  CHECK(wide.values[0] == doctest::Approx(0.0));
  CHECK(wide.values[1] == doctest::Approx(0.25));
  CHECK(wide.values[2] == doctest::Approx(0.75));
  CHECK(wide.values[3] == doctest::Approx(1.0));

  data::Image grey(1, 2, 1);
  grey.pixels = {100, 100};
  const data::Image overlay = overlay_heat_map(grey, ramp, 0.5f);
  CHECK(overlay.channels == 3);
  // 0 is blue, 1 is red in the jet colours; half grey 100 + half the colour.
  CHECK(overlay.at(0, 0, 2) > overlay.at(0, 0, 0));
  CHECK(overlay.at(0, 1, 0) > overlay.at(0, 1, 2));
  CHECK(overlay.at(0, 0, 0) == 50);  // red 0 at t = 0

  const std::string png = (scratch() / "overlay.png").string();
  write_png(png, overlay);
  const data::Image back = data::decode_image_file(png, 3);
  CHECK(back.pixels == overlay.pixels);
}

TEST_CASE("predict: an image claiming 30,000 x 30,000 pixels is refused at once, or skipped") {
  if (!ready("train_simple")) return;
  const std::string checkpoint = trained_checkpoint("train_simple");
  REQUIRE(!checkpoint.empty());
  // A real 2 x 2 PNG whose header claims 30000 x 30000 (the IHDR words at bytes 16 and 20).
  const fs::path huge = scratch() / "huge.png";
  fs::copy_file(kBenign, scratch() / "copy.png", fs::copy_options::overwrite_existing);
  {
    std::ifstream in(kBenign, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (int k = 0; k < 4; ++k)
      bytes[16 + k] = bytes[20 + k] = char(uint32_t(30000) >> (24 - 8 * k));
    std::ofstream(huge, std::ios::binary) << bytes;
  }
  const auto start = std::chrono::steady_clock::now();
  const RunResult strict =
      run_tool("predict", "--checkpoint '" + checkpoint + "' --device cpu '" + huge.string() + "'");
  MESSAGE("predict refused it in "
          << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
          << " s (loading the checkpoint included)");
  CHECK(strict.exit_code == 1);
  CHECK(strict.err.find(huge.string() + ": the image claims 30000 x 30000 pixels") !=
        std::string::npos);
  CHECK(strict.out.find(huge.string() + ":") == std::string::npos);  // nothing classified
  // --skip-bad: the others are classified, the bad one is named, and the exit status says so.
  const RunResult skip =
      run_tool("predict", "--skip-bad --checkpoint '" + checkpoint + "' --device cpu '" +
                              huge.string() + "' '" + kMalignant + "'");
  CHECK(skip.exit_code == 1);
  CHECK(skip.err.find("warning: skipped " + huge.string()) != std::string::npos);
  CHECK(skip.out.find(kMalignant + ": ") != std::string::npos);
  // A raised limit lets the header through; the decoder then finds the file is not that large.
  const RunResult raised =
      run_tool("predict", "--max-image-megapixels 1000 --checkpoint '" + checkpoint +
                              "' --device cpu '" + huge.string() + "'");
  CHECK(raised.exit_code == 1);
  CHECK(raised.err.find("claims") == std::string::npos);
}

TEST_CASE("predict: calibrated probabilities by default, raw on request, a malignant threshold") {
  const std::string tool = "train_simple";
  if (!ready(tool)) return;
  const std::string checkpoint = trained_checkpoint(tool);
  REQUIRE(!checkpoint.empty());
  const weights::CheckpointInfo info = read_checkpoint_metadata(checkpoint);
  REQUIRE(info.settings.count("temperature") == 1);
  const double temperature = std::stod(info.settings.at("temperature"));
  const std::string base = "--csv --device cpu --checkpoint '" + checkpoint + "' '" + kBenign +
                           "' '" + kMalignant + "' ";

  const RunResult raw = run_tool("predict", base + "--probabilities raw --malignant-threshold off");
  const RunResult calibrated = run_tool("predict", base + "--malignant-threshold off");
  INFO(raw.out << raw.err << calibrated.out << calibrated.err);
  REQUIRE(raw.exit_code == 0);
  REQUIRE(calibrated.exit_code == 0);
  const CsvTable r = parse_csv(raw.out, "raw"), c = parse_csv(calibrated.out, "calibrated");
  REQUIRE(r.rows.size() == 2);
  REQUIRE(c.rows.size() == 2);
  for (size_t row = 0; row < 2; ++row) {
    // softmax(log p / T) = softmax(z / T): the calibrated row follows from the raw one.
    std::vector<float> log_p;
    for (size_t k = 2; k < 5; ++k) log_p.push_back(static_cast<float>(std::log(r.number(row, k))));
    const std::vector<double> expected = softmax_with_temperature({log_p}, temperature)[0];
    for (size_t k = 2; k < 5; ++k)
      CHECK(c.number(row, k) == doctest::Approx(expected[k - 2]).epsilon(1e-4));
    CHECK(c.rows[row][1] == r.rows[row][1]);  // the temperature never changes the argmax
  }

  // Threshold 0 flags every image malignant; an impossible one (above every probability
  // printed) flags none, and the class is then never malignant.
  const RunResult all = run_tool("predict", base + "--malignant-threshold 0");
  REQUIRE(all.exit_code == 0);
  const CsvTable a = parse_csv(all.out, "threshold 0");
  for (const auto& row : a.rows) CHECK(row[1] == "malignant");
  const RunResult none = run_tool("predict", base + "--malignant-threshold 1");
  REQUIRE(none.exit_code == 0);
  for (const auto& row : parse_csv(none.out, "threshold 1").rows) CHECK(row[1] != "malignant");

  // The threshold chosen on validation, when the run had a malignant validation image.
  const RunResult val = run_tool("predict", base + "--malignant-threshold validation");
  // With no flag, the decision is that threshold when the run has one, else the argmax with a
  // note.
  const RunResult by_default = run_tool("predict", base);
  REQUIRE(by_default.exit_code == 0);
  if (info.settings.count("malignant_threshold") == 1) {
    CHECK(val.exit_code == 0);
    CHECK(by_default.out == val.out);
  } else {
    CHECK(val.exit_code != 0);
    CHECK(val.err.find("holds no threshold") != std::string::npos);
    CHECK(by_default.out == calibrated.out);
    CHECK(by_default.err.find("the decision is the most probable class (argmax)") !=
          std::string::npos);
  }
  const RunResult bad = run_tool("predict", base + "--malignant-threshold high");
  CHECK(bad.exit_code != 0);
  CHECK(bad.err.find("expected off, validation or a number") != std::string::npos);
}
