// OnnxGraph: appends nodes and weights to an ONNX GraphProto (the message of ONNX's own schema,
// onnx.proto, compiled by protoc) with names made unique, so that the code that emits a network
// reads as its forward pass: h = g.node("Relu", {h}).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "onnx/onnx.pb.h"

namespace busi::tools {

// The ONNX versions the exporter writes: opset 17 of the default domain (the newest that
// Debian's python3-onnx 1.12 checker knows) and IR version 8, which goes with it.
inline constexpr int64_t kOnnxOpset = 17;
inline constexpr int64_t kOnnxIrVersion = 8;

// One attribute of a node: an integer, a list of integers or a float.
struct OnnxAttribute {
  std::string name;
  enum class Kind { Int, Ints, Float } kind = Kind::Int;
  int64_t i = 0;
  std::vector<int64_t> ints;
  float f = 0.0f;

  static OnnxAttribute of(const std::string& name, int64_t value);
  static OnnxAttribute of(const std::string& name, std::vector<int64_t> values);
  static OnnxAttribute of(const std::string& name, float value);
};

class OnnxGraph {
 public:
  explicit OnnxGraph(onnx::GraphProto* graph) : graph_(graph) {}

  // A float32 weight (initializer) of the given shape; returns its name ("<name>" made unique).
  std::string weight(const std::string& name, const Shape& shape, const std::vector<float>& values);
  // An engine tensor (on any device) as a weight of its own shape.
  std::string weight(const std::string& name, const Tensor& tensor);
  // An int64 constant (indices of Gather, shapes of Reshape).
  std::string int64_weight(const std::string& name, const Shape& shape,
                           const std::vector<int64_t>& values);

  // A node of the default domain with one output; returns the output's name, "<name>" made
  // unique (the node gets the same name).
  std::string node(const std::string& op_type, const std::vector<std::string>& inputs,
                   const std::string& name, const std::vector<OnnxAttribute>& attributes = {});
  // The same with the output named exactly `output` (a graph output: "probabilities").
  void node_to(const std::string& op_type, const std::vector<std::string>& inputs,
               const std::string& output, const std::vector<OnnxAttribute>& attributes = {});

  // Declares a float32 graph input or output; a dimension < 0 is the symbolic batch size "N".
  void input(const std::string& name, const Shape& shape, const std::string& doc);
  void output(const std::string& name, const Shape& shape, const std::string& doc);

 private:
  std::string unique(const std::string& name);
  std::set<std::string> used_;  // every node, output and weight name given so far
  onnx::GraphProto* graph_;
};

}  // namespace busi::tools
