// Tensor, Storage and shape helpers: creation, views, copies between devices.
#include "engine/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <sstream>

#include "engine/autograd.h"
#include "kernels/cpu/host_allocator.h"
#include "kernels/cuda/runtime/api.h"

namespace busi {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

std::string shape_str(const Shape& shape) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) os << ",";
  os << ")";
  return os.str();
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

// ---- Storage ------------------------------------------------------------------------------------

// CPU buffers come from the caching host allocator (kernels/cpu/host_allocator.h): 64-byte
// aligned, and the blocks one training step frees serve the next without new page faults.
Storage::Storage(size_t bytes, Device device) : bytes_(bytes), device_(device) {
  const size_t asked = std::max<size_t>(bytes, 1);
  if (device.is_cpu()) {
    data_ = cpu::host_malloc(asked);
  } else {
#ifdef BUSI_WITH_CUDA
    data_ = cuda::device_malloc(asked);
#else
    throw Error("this build of busi-engine has no CUDA backend (configure with -DBUSI_CUDA=ON)");
#endif
  }
}

Storage::~Storage() {
  if (device_.is_cpu()) {
    cpu::host_free(data_, std::max<size_t>(bytes_, 1));
  } else {
#ifdef BUSI_WITH_CUDA
    cuda::device_free(data_);
#endif
  }
}

// ---- Creation -----------------------------------------------------------------------------------

Tensor Tensor::empty(const Shape& shape, Device device) {
  for (int64_t s : shape)
    BUSI_CHECK(s >= 0, "Tensor::empty: negative dimension in shape ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->storage = std::make_shared<Storage>(shape_numel(shape) * sizeof(float), device);
  return Tensor(std::move(impl));
}

Tensor Tensor::full(const Shape& shape, float value, Device device) {
  Tensor t = empty(shape, device);
  t.fill_(value);
  return t;
}
Tensor Tensor::zeros(const Shape& shape, Device device) { return full(shape, 0.0f, device); }
Tensor Tensor::ones(const Shape& shape, Device device) { return full(shape, 1.0f, device); }
Tensor Tensor::scalar(float value, Device device) { return full({}, value, device); }

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape, Device device) {
  BUSI_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape),
             "Tensor::from_vector: ", values.size(), " values do not fill shape ",
             shape_str(shape));
  Tensor t = empty(shape, Device::cpu());
  std::copy(values.begin(), values.end(), t.data());
  return device.is_cpu() ? t : t.to(device);
}

// ---- Accessors ----------------------------------------------------------------------------------

static const TensorImpl& checked(const std::shared_ptr<TensorImpl>& impl) {
  if (!impl) throw Error("use of an undefined Tensor");
  return *impl;
}

const Shape& Tensor::shape() const { return checked(impl_).shape; }
const Shape& Tensor::strides() const { return checked(impl_).strides; }
int64_t Tensor::numel() const { return shape_numel(shape()); }
DType Tensor::dtype() const { return checked(impl_).dtype; }
Device Tensor::device() const { return checked(impl_).storage->device(); }
const std::shared_ptr<Storage>& Tensor::storage() const { return checked(impl_).storage; }
int64_t Tensor::storage_offset() const { return checked(impl_).offset; }

int64_t Tensor::size(int64_t d) const {
  const int64_t n = dim();
  const int64_t i = d < 0 ? d + n : d;
  BUSI_CHECK(i >= 0 && i < n, "Tensor::size: dimension ", d, " out of range for shape ",
             shape_str(shape()));
  return shape()[i];
}

float* Tensor::data() const {
  const TensorImpl& t = checked(impl_);
  return static_cast<float*>(t.storage->data()) + t.offset;
}

std::vector<float> Tensor::to_vector() const {
  std::vector<float> out(numel());
  if (out.empty()) return out;
  if (device().is_cpu()) {
    std::copy(data(), data() + numel(), out.begin());
  } else {
#ifdef BUSI_WITH_CUDA
    cuda::copy_device_to_host(out.data(), data(), out.size() * sizeof(float));
#endif
  }
  return out;
}

float Tensor::item() const {
  BUSI_CHECK(numel() == 1, "Tensor::item: tensor of shape ", shape_str(shape()), " has ", numel(),
             " elements, not 1");
  return to_vector()[0];
}

std::string Tensor::str() const {
  if (!impl_) return "Tensor(undefined)";
  return "Tensor(shape=" + shape_str(shape()) + ", device=" + device().str() + ")";
}

// ---- Views and copies ---------------------------------------------------------------------------

Tensor Tensor::view(const Shape& new_shape) const {
  Shape s = new_shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      BUSI_CHECK(infer < 0, "view: more than one -1 in shape ", shape_str(new_shape));
      infer = static_cast<int64_t>(i);
    } else {
      BUSI_CHECK(s[i] >= 0, "view: invalid shape ", shape_str(new_shape));
      known *= s[i];
    }
  }
  if (infer >= 0) {
    BUSI_CHECK(known > 0 && numel() % known == 0, "view: cannot view ", shape_str(shape()), " as ",
               shape_str(new_shape));
    s[infer] = numel() / known;
  }
  BUSI_CHECK(shape_numel(s) == numel(), "view: cannot view ", shape_str(shape()), " (", numel(),
             " elements) as ", shape_str(new_shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = storage();
  impl->offset = storage_offset();
  impl->shape = s;
  impl->strides = contiguous_strides(s);
  return Tensor(std::move(impl));
}

Tensor Tensor::narrow0(int64_t start, int64_t length) const {
  BUSI_CHECK(dim() >= 1 && start >= 0 && length >= 0 && start + length <= shape()[0],
             "narrow0: rows [", start, ", ", start + length, ") out of range for shape ",
             shape_str(shape()));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = storage();
  impl->shape = shape();
  impl->shape[0] = length;
  impl->strides = contiguous_strides(impl->shape);
  impl->offset = storage_offset() + start * (dim() > 0 ? strides()[0] : 1);
  return Tensor(std::move(impl));
}

void Tensor::copy_(const Tensor& src) {
  BUSI_CHECK(src.numel() == numel(), "copy_: source ", shape_str(src.shape()), " and destination ",
             shape_str(shape()), " differ in size");
  const size_t bytes = numel() * sizeof(float);
  if (bytes == 0) return;
  const bool from_cpu = src.device().is_cpu(), to_cpu = device().is_cpu();
  if (from_cpu && to_cpu) {
    std::memmove(data(), src.data(), bytes);
    return;
  }
#ifdef BUSI_WITH_CUDA
  if (from_cpu)
    cuda::copy_host_to_device(data(), src.data(), bytes);
  else if (to_cpu)
    cuda::copy_device_to_host(data(), src.data(), bytes);
  else
    cuda::copy_device_to_device(data(), src.data(), bytes);
#else
  throw Error("copy_: CUDA tensor in a build without the CUDA backend");
#endif
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape(), device());
  t.copy_(*this);
  return t;
}

bool Tensor::sole_owner() const {
  return impl_ && impl_.use_count() == 1 && impl_->storage.use_count() == 1;
}

Tensor Tensor::to(Device d) const {
  if (device() == d) return *this;
  Tensor t = empty(shape(), d);
  t.copy_(*this);
  return t;
}

void Tensor::fill_(float value) {
  if (numel() == 0) return;
  if (device().is_cpu()) {
    std::fill(data(), data() + numel(), value);
  } else {
#ifdef BUSI_WITH_CUDA
    cuda::fill(data(), value, numel());
#endif
  }
}

// ---- Autograd fields ----------------------------------------------------------------------------

bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }

Tensor& Tensor::set_requires_grad(bool on) {
  BUSI_CHECK(impl_, "set_requires_grad on an undefined tensor");
  BUSI_CHECK(!impl_->grad_fn || on, "set_requires_grad(false) on a non-leaf tensor ",
             "(produced by '", impl_->grad_fn->op, "'): use detach() instead");
  impl_->requires_grad = on;
  if (!on) impl_->grad = Tensor();
  return *this;
}

Tensor Tensor::grad() const { return checked(impl_).grad; }
void Tensor::set_grad(const Tensor& g) {
  BUSI_CHECK(impl_, "set_grad on an undefined tensor");
  BUSI_CHECK(!g.defined() || g.shape() == shape(), "set_grad: gradient ", shape_str(g.shape()),
             " does not match tensor ", shape_str(shape()));
  impl_->grad = g;
}
void Tensor::zero_grad() {
  if (impl_) impl_->grad = Tensor();
}

const std::shared_ptr<Node>& Tensor::grad_fn() const { return checked(impl_).grad_fn; }
void Tensor::set_grad_fn(std::shared_ptr<Node> node) {
  BUSI_CHECK(impl_, "set_grad_fn on an undefined tensor");
  impl_->grad_fn = std::move(node);
  impl_->requires_grad = impl_->grad_fn != nullptr || impl_->requires_grad;
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  const TensorImpl& t = checked(impl_);
  impl->storage = t.storage;
  impl->offset = t.offset;
  impl->shape = t.shape;
  impl->strides = t.strides;
  impl->dtype = t.dtype;
  return Tensor(std::move(impl));
}

void Tensor::backward(const Tensor& grad_output, bool retain_graph) const {
  BUSI_CHECK(requires_grad(), "backward: tensor ", str(),
             " does not require grad (no parameter in its graph requires a gradient, or it was "
             "computed under NoGradGuard)");
  Tensor seed = grad_output;
  if (!seed.defined()) {
    BUSI_CHECK(numel() == 1, "backward: called without a gradient on ", str(),
               "; only a one-element tensor (a loss) can seed backward implicitly");
    seed = Tensor::ones(shape(), device());
  }
  BUSI_CHECK(seed.shape() == shape(), "backward: gradient ", shape_str(seed.shape()),
             " does not match tensor ", shape_str(shape()));
  run_backward(*this, seed, retain_graph);
}

void check_defined(const Tensor& t, const char* op, const char* arg) {
  BUSI_CHECK(t.defined(), op, ": argument '", arg, "' is an undefined tensor");
}

void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  BUSI_CHECK(a.device() == b.device(), op, ": tensors on different devices (", a.device().str(),
             " and ", b.device().str(), ")");
}

}  // namespace busi
