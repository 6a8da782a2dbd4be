// The metadata of an exported ONNX model (see onnx_metadata.h): read from each checkpoint's
// settings and, where the run folder is beside it, its config.json (commit, data, weights file).
#include "tools/export/onnx_metadata.h"

#include <filesystem>
#include <utility>
#include <vector>

#include "models/vgg16.h"
#include "tools/formats/json_value.h"
#include "tools/run_folder/compare_plan.h"
#include "tools/run_folder/run_dir.h"
#include "tools/train/architecture.h"
#include "tools/train/run_checkpoint.h"
#include "tools/train/run_config.h"

namespace busi::tools {

namespace {

namespace fs = std::filesystem;

// What one member's run recorded about where it came from.
struct Provenance {
  Json architecture, epoch;
  Json commit, data, imagenet;  // null when the run did not record it
};

// The run's config.json beside the checkpoint, or null when there is none (a checkpoint copied
// out of its run folder) or it cannot be read: provenance is then what the checkpoint holds.
Json run_config_of(const std::string& checkpoint) {
  const fs::path config = fs::path(checkpoint).parent_path() / "config.json";
  if (!fs::is_regular_file(config)) return Json();
  try {
    return read_json_file(config.string());
  } catch (const Error&) {
    return Json();
  }
}

Provenance provenance_of(const LoadedModel& m) {
  Provenance p;
  const weights::CheckpointInfo info = read_checkpoint_metadata(m.path);
  p.epoch = info.epoch;
  p.architecture = checkpoint_architecture(info, m.path);
  const Json config = run_config_of(m.path);
  if (const Json* commit = config.find("git_commit")) p.commit = *commit;
  if (const Json* data = config.find("data")) p.data = *data;
  if (m.name != models::VGG16::kModelName) {
    p.imagenet = "none: trained from scratch";
    return p;
  }
  // finetune_vgg's summary ("ImageNet weights: 5 of 13 conv layers (block1_conv1, ...); He-
  // initialised: ...") and file, or from the checkpoint alone the number of layers loaded.
  std::string text;
  if (const Json* summary = config.find("imagenet_summary")) {
    text = summary->as_string();
  } else if (const auto it = info.settings.find("imagenet_layers_loaded");
             it != info.settings.end()) {
    text = "ImageNet weights: ";
    text += it->second;
    text += " of ";
    text += std::to_string(models::VGG16::conv_layer_names().size());
    text += " conv layers";
  }
  if (const Json* file = config.find("weights_file"); file && file->is_string()) {
    text += text.empty() ? "" : "; ";
    text += "weights file: ";
    text += file->as_string().empty() ? "none (--init random)" : file->as_string();
  }
  if (!text.empty()) p.imagenet = text;
  return p;
}

// One value when every member has the same, else one per member (a JSON array in fold order).
Json common_or_each(const std::vector<Json>& values) {
  for (const Json& v : values)
    if (v.dump(0) != values.front().dump(0)) return Json(values);
  return values.front();
}

void set_prop(onnx::ModelProto& model, const std::string& key, const Json& value) {
  if (value.is_null()) return;
  onnx::StringStringEntryProto* entry = model.add_metadata_props();
  entry->set_key(key);
  entry->set_value(value.is_string() ? value.as_string() : value.dump(0));
}

}  // namespace

void add_onnx_metadata(onnx::ModelProto& model, const Classifier& source) {
  const LoadedModel& first = source.first();
  model.set_producer_name("busi-engine");
  model.set_producer_version("export_onnx, commit " + git_commit(BUSI_SOURCE_DIR));
  model.set_model_version(1);

  std::vector<Json> temperature, normalization, architecture, commit, data, imagenet, checkpoint,
      epoch;
  for (const LoadedModel& m : source.members) {
    const Provenance p = provenance_of(m);
    temperature.push_back(m.temperature ? Json(*m.temperature) : Json());
    normalization.push_back(normalization_to_json(m.normalization));
    architecture.push_back(p.architecture);
    commit.push_back(p.commit);
    data.push_back(p.data);
    imagenet.push_back(p.imagenet);
    checkpoint.push_back(m.path);
    epoch.push_back(p.epoch);
  }
  const std::string S = std::to_string(first.img_size);
  set_prop(model, "class_names", Json(first.class_names));
  set_prop(model, "input_size", first.img_size);
  set_prop(model, "input_channels", first.channels);
  std::string input = "float32 (N, " + std::to_string(first.channels) + ", " + S + ", " + S +
                      "), pixel values 0..255 of the image resized to " + S + " x " + S;
  input += first.channels == 1 ? ", grey" : ", RGB";
  input += "; the graph normalises it";
  set_prop(model, "input", input);
  set_prop(model, "normalization", common_or_each(normalization));
  set_prop(model, "temperature", common_or_each(temperature));
  if (source.malignant_threshold)
    set_prop(model, "malignant_threshold", *source.malignant_threshold);
  set_prop(model, "model", first.name);
  set_prop(model, "architecture", common_or_each(architecture));
  set_prop(model, "imagenet_weights", common_or_each(imagenet));
  set_prop(model, "training_commit", common_or_each(commit));
  set_prop(model, "training_data", common_or_each(data));
  set_prop(model, "checkpoint", common_or_each(checkpoint));
  set_prop(model, "epoch", common_or_each(epoch));
  if (source.ensemble) set_prop(model, "ensemble", source.source + ", probabilities averaged");

  std::string classes;
  for (const std::string& name : first.class_names) {
    if (!classes.empty()) classes += ", ";
    classes += name;
  }
  std::string doc = model_title(first.name);
  doc += " classifier of breast-ultrasound images (" + classes + "), exported by busi-engine ";
  doc += "export_onnx from " + source.source + ".\n";
  doc += "Input 'image': " + input + ".\n";
  doc += "Output 'probabilities': (N, " + std::to_string(first.class_names.size()) +
         ") calibrated class probabilities in the order of class_names, softmax(logits / T)";
  doc += source.ensemble ? ", averaged over the fold models" : "";
  doc += first.temperature ? " with the temperature T fitted on validation"
                           : " (no temperature: the network's own softmax)";
  doc += source.ensemble ? ".\n" : "; 'logits': the network's logits before T.\n";
  if (source.malignant_threshold) {
    doc += "Decision as predict makes it: malignant when its probability >= " +
           json_number(*source.malignant_threshold);
    doc += " (chosen on validation for 90 % sensitivity), else the most probable other class.\n";
  }
  doc += "A research model, not a diagnostic device.";
  model.set_doc_string(doc);
}

}  // namespace busi::tools
