// The classifier graph of one checkpoint or a fold ensemble (see onnx_graph.h): normalisation,
// network, temperature, softmax, the ensemble mean, and writing the file.
#include "tools/export/onnx_graph.h"

#include <cmath>

#include "kernels/common/error.h"
#include "tools/export/onnx_builder.h"
#include "tools/export/onnx_metadata.h"
#include "tools/export/onnx_network.h"
#include "weights/atomic_file.h"

namespace busi::tools {

namespace {

// The trainers' normalisation (data::Normalization::apply) as graph ops on the pixel values x
// (N, C, S, S), 0..255. For output channel c:
//   out[c] = (x[src(c)] * scale - mean[c]) / std[c],   src(c) = bgr ? C - 1 - c : c
// which becomes Gather (channel order, only when bgr) -> Div by 1 / scale (x / 255, exactly as
// written in the formula; Mul when 1 / scale is no whole number) -> Sub mean -> Div std (left
// out when every std is 1, as for imagenet-caffe). mean and std are (1, C, 1, 1), broadcast.
std::string emit_normalization(OnnxGraph& g, const data::Normalization& n, int64_t channels,
                               const std::string& x, const std::string& p) {
  BUSI_CHECK(n.channels() == channels && static_cast<int64_t>(n.std.size()) == channels,
             "normalisation '", n.name, "' has ", n.channels(), " channels, the model ", channels);
  std::string h = x;
  if (n.bgr) {
    std::vector<int64_t> order;  // output channel c reads input channel C - 1 - c
    for (int64_t c = 0; c < channels; ++c) order.push_back(channels - 1 - c);
    h = g.node("Gather", {h, g.int64_weight(p + "input_channel_order", {channels}, order)},
               p + "input_bgr", {OnnxAttribute::of("axis", int64_t{1})});
  }
  if (n.scale != 1.0) {
    const double divisor = 1.0 / n.scale;  // 255 for x / 255
    if (std::abs(divisor - std::round(divisor)) < 1e-9 * divisor)
      h = g.node("Div",
                 {h, g.weight(p + "input_divisor", {}, {static_cast<float>(std::round(divisor))})},
                 p + "input_scaled");
    else
      h = g.node("Mul", {h, g.weight(p + "input_scale", {}, {static_cast<float>(n.scale)})},
                 p + "input_scaled");
  }
  const Shape per_channel = {1, channels, 1, 1};
  std::vector<float> mean, std;
  bool unit_std = true;
  for (int64_t c = 0; c < channels; ++c) {
    mean.push_back(static_cast<float>(n.mean[c]));
    std.push_back(static_cast<float>(n.std[c]));
    unit_std = unit_std && n.std[c] == 1.0;
  }
  h = g.node("Sub", {h, g.weight(p + "input_mean", per_channel, mean)}, p + "input_centred");
  if (!unit_std)
    h = g.node("Div", {h, g.weight(p + "input_std", per_channel, std)}, p + "input_normalised");
  return h;  // (N, C, S, S), what the network was trained on
}

// softmax(logits / T) along the classes, T the member's temperature (none: T = 1, no Div).
void emit_calibrated_softmax(OnnxGraph& g, const LoadedModel& m, const std::string& logits,
                             const std::string& probabilities, const std::string& p) {
  std::string z = logits;
  if (m.temperature)
    z = g.node("Div", {z, g.weight(p + "temperature", {}, {static_cast<float>(*m.temperature)})},
               p + "logits_over_temperature");
  g.node_to("Softmax", {z}, probabilities, {OnnxAttribute::of("axis", int64_t{1})});
}

}  // namespace

onnx::ModelProto build_onnx_model(const Classifier& source) {
  BUSI_CHECK(!source.members.empty(), source.source, ": no model to export");
  const LoadedModel& first = source.first();
  for (const LoadedModel& m : source.members)
    BUSI_CHECK(m.class_names == first.class_names && m.img_size == first.img_size &&
                   m.channels == first.channels,
               m.path, ": its classes or input size differ from ", first.path, "'s");
  const int64_t classes = static_cast<int64_t>(first.class_names.size());
  const int64_t C = first.channels, S = first.img_size;

  onnx::ModelProto model;
  model.set_ir_version(kOnnxIrVersion);
  onnx::OperatorSetIdProto* opset = model.add_opset_import();
  opset->set_domain("");  // the default ONNX operators
  opset->set_version(kOnnxOpset);
  onnx::GraphProto* graph = model.mutable_graph();
  graph->set_name(source.ensemble ? "busi_" + source.model + "_ensemble" : "busi_" + source.model);
  OnnxGraph g(graph);

  const std::string channels_text = C == 1 ? "grey, 1 channel" : "RGB, 3 channels";
  g.input(kOnnxInput, {-1, C, S, S},
          "the image resized to " + std::to_string(S) + " x " + std::to_string(S) + " (" +
              channels_text + "), float32 pixel values 0..255, layout (N, C, H, W)");
  const std::string probability_doc =
      "calibrated class probabilities, softmax(logits / temperature)" +
      std::string(source.ensemble ? ", averaged over the fold models" : "");
  if (!source.ensemble) {
    const LoadedModel& m = first;
    const std::string x = emit_normalization(g, m.normalization, C, kOnnxInput, "");
    emit_network(g, *m.module, x, kOnnxLogits, "", m.path);  // (N, classes)
    emit_calibrated_softmax(g, m, kOnnxLogits, kOnnxProbabilities, "");
  } else {
    // Each fold model reads the same image with its own normalisation (SimpleCNN's is measured
    // on its own training subset) and temperature; the mean of their probabilities is the
    // ensemble's, as ensemble_probabilities computes it.
    std::vector<std::string> member_probabilities;
    for (size_t k = 0; k < source.members.size(); ++k) {
      const LoadedModel& m = source.members[k];
      const std::string p = "fold" + std::to_string(k + 1) + "/";
      const std::string x = emit_normalization(g, m.normalization, C, kOnnxInput, p);
      const std::string logits = p + "logits";
      emit_network(g, *m.module, x, logits, p, m.path);
      member_probabilities.push_back(p + "probabilities");
      emit_calibrated_softmax(g, m, logits, member_probabilities.back(), p);
    }
    g.node_to("Mean", member_probabilities, kOnnxProbabilities);
  }
  g.output(kOnnxProbabilities, {-1, classes}, probability_doc);
  if (!source.ensemble)
    g.output(kOnnxLogits, {-1, classes}, "the network's logits, before the temperature");
  add_onnx_metadata(model, source);
  return model;
}

void write_onnx_model(const onnx::ModelProto& model, const std::string& path) {
  std::string bytes;
  BUSI_CHECK(model.SerializeToString(&bytes), "'", path,
             "': the ONNX model could not be serialised (over protobuf's 2 GB limit?)");
  weights::AtomicFile file(path);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

}  // namespace busi::tools
