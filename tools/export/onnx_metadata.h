// What an exported ONNX file says about its model, for whoever loads it without this engine:
// ModelProto.metadata_props (key -> text; JSON where a value has structure) and a doc_string in
// words. The keys:
//   class_names          JSON array, in the order of the outputs' columns
//   input_size           S, the side of the square image the input expects (pixels)
//   input_channels       1 (grey) or 3 (RGB)
//   input                how to prepare it: resized to S x S, float32 values 0..255, (N, C, S, S)
//   normalization        JSON {name, bgr, scale, mean, std}: what the graph applies first
//   temperature          T of softmax(logits / T), fitted on validation; absent when none
//   malignant_threshold  call "malignant" when its probability >= this (90 % sensitivity on
//                        validation); the mean of the fold models' for an ensemble
//   model, architecture  "simple_cnn" / "vgg16" and its configuration (JSON)
//   imagenet_weights     VGG16: how many of the 13 conv layers started from ImageNet weights,
//                        and the file; SimpleCNN: none (trained from scratch)
//   training_commit      the engine's git commit the run trained with (its config.json)
//   training_data        the data folder the run trained on (its config.json)
//   checkpoint, epoch    the checkpoint(s) exported and the epoch each was saved at
//   ensemble             for a fold ensemble: which models, and that their probabilities are averaged
// A value that differs between an ensemble's members (temperature, normalisation, commit...)
// is a JSON array with one entry per member, in fold order.
#pragma once

#include "onnx/onnx.pb.h"
#include "tools/predict/classifier.h"

namespace busi::tools {

// Sets producer_name "busi-engine", producer_version (the exporting tree's commit), doc_string
// and metadata_props of `model` from `source` and the run folders beside its checkpoints.
void add_onnx_metadata(onnx::ModelProto& model, const Classifier& source);

}  // namespace busi::tools
