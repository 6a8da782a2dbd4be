// A trained classifier (one checkpoint, or a fold ensemble) as one ONNX model: the image as the
// user has it in, the normalisation, the network(s), the temperature and the softmax in the
// graph, calibrated probabilities out, and the metadata (onnx_metadata.h) on the model.
#pragma once

#include <string>

#include "onnx/onnx.pb.h"
#include "tools/predict/classifier.h"

namespace busi::tools {

// The graph's input and outputs.
inline constexpr const char* kOnnxInput = "image";  // (N, C, S, S) float32, values 0..255
inline constexpr const char* kOnnxProbabilities = "probabilities";  // (N, classes)
inline constexpr const char* kOnnxLogits = "logits";                // (N, classes), one model only

// The model of `source`: opset 17, IR version 8, producer busi-engine. Its graph computes, for
// each member m with normalisation (scale, mean, std, channel order) and temperature T_m:
//   probabilities = mean over m of softmax(network_m((x[channels] scale - mean) / std) / T_m)
// (T_m = 1 when the checkpoint has no temperature), and for a single model also its raw
// logits. Throws busi::Error when the members' input sizes, channels or classes differ.
onnx::ModelProto build_onnx_model(const Classifier& source);

// Writes the model to `path` atomically (a temporary file renamed over it). Throws busi::Error
// naming the file and the reason when it cannot be written.
void write_onnx_model(const onnx::ModelProto& model, const std::string& path);

}  // namespace busi::tools
