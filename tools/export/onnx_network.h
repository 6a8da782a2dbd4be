// The engine's networks as ONNX nodes: SimpleCNN and VGG16, layer by layer as their forward
// passes in evaluation mode compute them (batch norm with its running statistics, dropout left
// out), from the normalised image to the logits.
#pragma once

#include <string>

#include "engine/nn.h"
#include "tools/export/onnx_builder.h"

namespace busi::tools {

// Appends the network `module` (a models::SimpleCNN or models::VGG16, evaluation mode) to the
// graph: from `x`, the normalised input (N, C, S, S), to the logits (N, classes), which are
// named `logits`. Node and weight names start with `prefix` ("fold1/" in an ensemble, else "").
// Every child module is accounted for: a layer the exporter does not know (a model changed
// since) throws busi::Error naming it and `source` rather than leave it out of the graph.
void emit_network(OnnxGraph& g, const nn::Module& module, const std::string& x,
                  const std::string& logits, const std::string& prefix, const std::string& source);

}  // namespace busi::tools
