// Appending nodes, weights, inputs and outputs to an ONNX graph (see onnx_builder.h).
#include "tools/export/onnx_builder.h"

#include <bit>
#include <cstring>

#include "kernels/common/error.h"

namespace busi::tools {

static_assert(std::endian::native == std::endian::little,
              "ONNX raw_data is little-endian: this writer copies the host's bytes as they are");

OnnxAttribute OnnxAttribute::of(const std::string& name, int64_t value) {
  OnnxAttribute a;
  a.name = name;
  a.kind = Kind::Int;
  a.i = value;
  return a;
}

OnnxAttribute OnnxAttribute::of(const std::string& name, std::vector<int64_t> values) {
  OnnxAttribute a;
  a.name = name;
  a.kind = Kind::Ints;
  a.ints = std::move(values);
  return a;
}

OnnxAttribute OnnxAttribute::of(const std::string& name, float value) {
  OnnxAttribute a;
  a.name = name;
  a.kind = Kind::Float;
  a.f = value;
  return a;
}

// "<name>", or "<name>_2", "<name>_3"... when taken: ONNX requires every value name to be
// assigned once in the graph (static single assignment).
std::string OnnxGraph::unique(const std::string& name) {
  std::string candidate = name;
  for (int k = 2; used_.count(candidate) > 0; ++k) {
    candidate = name;
    candidate += "_";
    candidate += std::to_string(k);
  }
  used_.insert(candidate);
  return candidate;
}

std::string OnnxGraph::weight(const std::string& name, const Shape& shape,
                              const std::vector<float>& values) {
  BUSI_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "ONNX weight '", name,
             "': ", values.size(), " values for shape ", shape_str(shape));
  onnx::TensorProto* t = graph_->add_initializer();
  t->set_name(unique(name));
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : shape) t->add_dims(d);
  // raw_data: the float32 values' bytes, little-endian, row-major (the engine's own layout).
  t->set_raw_data(values.data(), values.size() * sizeof(float));
  return t->name();
}

std::string OnnxGraph::weight(const std::string& name, const Tensor& tensor) {
  return weight(name, tensor.shape(), tensor.to_vector());
}

std::string OnnxGraph::int64_weight(const std::string& name, const Shape& shape,
                                    const std::vector<int64_t>& values) {
  BUSI_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "ONNX constant '", name,
             "': ", values.size(), " values for shape ", shape_str(shape));
  onnx::TensorProto* t = graph_->add_initializer();
  t->set_name(unique(name));
  t->set_data_type(onnx::TensorProto::INT64);
  for (int64_t d : shape) t->add_dims(d);
  t->set_raw_data(values.data(), values.size() * sizeof(int64_t));
  return t->name();
}

namespace {

onnx::NodeProto* add_node(onnx::GraphProto* graph, const std::string& op_type,
                          const std::vector<std::string>& inputs, const std::string& output,
                          const std::vector<OnnxAttribute>& attributes) {
  onnx::NodeProto* n = graph->add_node();
  n->set_op_type(op_type);
  n->set_name(output);
  for (const std::string& in : inputs) n->add_input(in);
  n->add_output(output);
  for (const OnnxAttribute& a : attributes) {
    onnx::AttributeProto* p = n->add_attribute();
    p->set_name(a.name);
    switch (a.kind) {
      case OnnxAttribute::Kind::Int:
        p->set_type(onnx::AttributeProto::INT);
        p->set_i(a.i);
        break;
      case OnnxAttribute::Kind::Ints:
        p->set_type(onnx::AttributeProto::INTS);
        for (int64_t v : a.ints) p->add_ints(v);
        break;
      case OnnxAttribute::Kind::Float:
        p->set_type(onnx::AttributeProto::FLOAT);
        p->set_f(a.f);
        break;
    }
  }
  return n;
}

void set_value_info(onnx::ValueInfoProto* v, const std::string& name, const Shape& shape,
                    const std::string& doc) {
  v->set_name(name);
  v->set_doc_string(doc);
  onnx::TypeProto_Tensor* type = v->mutable_type()->mutable_tensor_type();
  type->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : shape) {
    onnx::TensorShapeProto_Dimension* dim = type->mutable_shape()->add_dim();
    if (d < 0)
      dim->set_dim_param("N");  // the batch: any number of images
    else
      dim->set_dim_value(d);
  }
}

}  // namespace

std::string OnnxGraph::node(const std::string& op_type, const std::vector<std::string>& inputs,
                            const std::string& name, const std::vector<OnnxAttribute>& attributes) {
  return add_node(graph_, op_type, inputs, unique(name), attributes)->output(0);
}

void OnnxGraph::node_to(const std::string& op_type, const std::vector<std::string>& inputs,
                        const std::string& output, const std::vector<OnnxAttribute>& attributes) {
  BUSI_CHECK(used_.count(output) == 0, "ONNX graph: the name '", output, "' is taken");
  used_.insert(output);
  add_node(graph_, op_type, inputs, output, attributes);
}

void OnnxGraph::input(const std::string& name, const Shape& shape, const std::string& doc) {
  BUSI_CHECK(used_.count(name) == 0, "ONNX graph: the name '", name, "' is taken");
  used_.insert(name);
  set_value_info(graph_->add_input(), name, shape, doc);
}

void OnnxGraph::output(const std::string& name, const Shape& shape, const std::string& doc) {
  set_value_info(graph_->add_output(), name, shape, doc);
}

}  // namespace busi::tools
