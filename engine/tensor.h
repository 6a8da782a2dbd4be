// Tensor: an N-d float32 array (NCHW for images) on the CPU or a CUDA device, with the autograd
// fields (requires_grad, grad, grad_fn). Tensors are cheap handles: copies share the same data.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"
#include "kernels/common/error.h"

namespace busi {

using Shape = std::vector<int64_t>;

// Number of elements of a shape (1 for a scalar, shape {}).
int64_t shape_numel(const Shape& shape);
// "(8, 3, 224, 224)"
std::string shape_str(const Shape& shape);
// Row-major contiguous strides of a shape, in elements.
Shape contiguous_strides(const Shape& shape);

// Only float32 is implemented; the field exists so fp16/bf16 can be added without an API change.
enum class DType { Float32 };
inline const char* dtype_name(DType) { return "float32"; }
inline size_t dtype_size(DType) { return 4; }

// A block of memory on one device. Views (reshape, flatten, batch slices) share one Storage.
// CPU memory comes from aligned new; CUDA memory from the caching allocator (kernels/cuda/runtime/).
class Storage {
 public:
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
};

struct Node;  // engine/autograd.h
struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor; defined() is false

  // ---- Creation ---------------------------------------------------------------------------------
  static Tensor empty(const Shape& shape, Device device = Device::cpu());  // uninitialised
  static Tensor zeros(const Shape& shape, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, Device device = Device::cpu());
  static Tensor full(const Shape& shape, float value, Device device = Device::cpu());
  // Copies `values` (must hold shape_numel(shape) floats) into a new tensor on `device`.
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape,
                            Device device = Device::cpu());
  static Tensor scalar(float value, Device device = Device::cpu());

  // ---- Shape and storage ------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  const Shape& strides() const;
  int64_t numel() const;
  DType dtype() const;
  Device device() const;
  bool is_cuda() const { return device().is_cuda(); }

  // Pointer to the first element (storage base + offset). On CUDA this is a device pointer.
  float* data() const;
  template <typename T>
  T* data_ptr() const {
    return reinterpret_cast<T*>(data());
  }
  const std::shared_ptr<Storage>& storage() const;
  int64_t storage_offset() const;

  // The values copied to a host vector (works for CPU and CUDA tensors).
  std::vector<float> to_vector() const;
  // The single value of a one-element tensor.
  float item() const;

  // A view with another shape sharing this tensor's storage (no copy). One entry may be -1.
  // Not recorded by autograd: use busi::reshape() in ops.h inside a differentiable computation.
  Tensor view(const Shape& shape) const;
  // Rows [start, start+length) along dim 0, as a view sharing storage (no copy, no autograd).
  Tensor narrow0(int64_t start, int64_t length) const;
  // A new tensor with its own copy of the data, on the same device, not part of any graph.
  Tensor clone() const;
  // Copy of this tensor on `device` (returns *this if already there). Not recorded by autograd.
  Tensor to(Device device) const;
  // Copies src's values into this tensor (same numel; any devices). Not recorded by autograd.
  void copy_(const Tensor& src);
  void fill_(float value);
  void zero_() { fill_(0.0f); }

  // ---- Autograd ---------------------------------------------------------------------------------
  bool requires_grad() const;
  // Marks a leaf tensor as a parameter whose gradient is wanted (or, with false, frozen).
  Tensor& set_requires_grad(bool on);
  // The accumulated gradient of a leaf (undefined until backward() reaches it).
  Tensor grad() const;
  void set_grad(const Tensor& g);
  void zero_grad();  // drops the gradient (the next backward allocates a fresh one)
  // The node that produced this tensor (null for leaves and for tensors made without grad).
  const std::shared_ptr<Node>& grad_fn() const;
  void set_grad_fn(std::shared_ptr<Node> node);
  // A tensor sharing this data but cut out of the graph (no grad_fn, requires_grad false).
  Tensor detach() const;
  // Backpropagates from this tensor. With no argument it must hold one element (a loss) and the
  // seed gradient is 1. The graph is freed afterwards unless retain_graph is true.
  void backward(const Tensor& grad_output = Tensor(), bool retain_graph = false) const;

  // True when this handle is the only one to its tensor and no other tensor (a view) shares its
  // storage: nothing else can see a change of its values.
  bool sole_owner() const;

  // Identity of the underlying tensor (two handles to one tensor compare equal).
  const TensorImpl* id() const { return impl_.get(); }
  std::string str() const;  // "Tensor(shape=(2, 3), device=cpu)"

  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// The state behind a Tensor handle. Always contiguous, row-major.
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  Shape strides;
  DType dtype = DType::Float32;
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
};

// Throws a clear error if `t` is undefined or not on `device`; used by every op.
void check_defined(const Tensor& t, const char* op, const char* arg);
void check_same_device(const Tensor& a, const Tensor& b, const char* op);

}  // namespace busi
