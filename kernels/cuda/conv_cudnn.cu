// The cuDNN convolution behind cuda::conv2d_forward / conv2d_backward (conv.cu), twin of
// kernels/cpu/conv.cpp. Real GPUs only: a -DBUSI_CUDA=EMULATE build leaves this file out (cuDNN
// cannot run on the emulated device). All of cuDNN lives here:
//   - a few RAII classes own its descriptors;
//   - a ConvPlan holds the descriptors of one shape and the algorithm chosen for each direction;
//     plans are built once per shape (math mode, alignment) and cached by that key;
//   - an algorithm is chosen once per plan and direction: timed by cudnnFind*AlgorithmEx, or in
//     deterministic mode taken from the cudnnGet*_v7 heuristics among the deterministic ones;
//   - an algorithm may use at most half of the device memory free when its shape is first met
//     (conv_workspace.h); the timed search runs in a buffer of its own, taken with cudaMalloc and
//     given back after the search, and the convolutions then share one grow-only buffer per
//     device, from the caching allocator, as large as the largest chosen algorithm needs;
//   - the math type follows the TF32 switch: CUDNN_DEFAULT_MATH lets cuDNN use TF32 tensor cores,
//     CUDNN_FMA_MATH restricts it to plain FP32 FMA kernels.
// The legacy convolution API used here (v7 find/heuristics) is deprecated in cuDNN 9 but
// supported; the removed pre-v7 calls are not used. The bias (and a fused ReLU) is the engine's
// own epilogue kernel, add_bias_relu (conv.cu).
#include <cudnn.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "kernels/cuda/runtime/allocator.h"
#include "kernels/cuda/runtime/backend_options.h"
#include "kernels/cuda/runtime/check.h"
#include "kernels/cuda/runtime/context.h"
#include "kernels/cuda/runtime/controls.h"
#include "kernels/cuda/runtime/api.h"
#include "kernels/common/error.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/conv_variants.h"
#include "kernels/cuda/conv_workspace.h"
#include "kernels/cuda/reduce.h"

namespace busi::cuda {

namespace {

// ---- Descriptors --------------------------------------------------------------------------------

// An (N, C, H, W) float tensor, contiguous.
class TensorDescriptor {
 public:
  TensorDescriptor(int n, int c, int h, int w) {
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc_));
    const cudnnStatus_t status =
        cudnnSetTensor4dDescriptor(desc_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w);
    if (status != CUDNN_STATUS_SUCCESS) cudnnDestroyTensorDescriptor(desc_);
    CUDNN_CHECK(status);
  }
  ~TensorDescriptor() { cudnnDestroyTensorDescriptor(desc_); }
  TensorDescriptor(const TensorDescriptor&) = delete;
  TensorDescriptor& operator=(const TensorDescriptor&) = delete;
  cudnnTensorDescriptor_t get() const { return desc_; }

 private:
  cudnnTensorDescriptor_t desc_ = nullptr;
};

// An (O, C, kH, kW) float filter.
class FilterDescriptor {
 public:
  FilterDescriptor(int o, int c, int kh, int kw) {
    CUDNN_CHECK(cudnnCreateFilterDescriptor(&desc_));
    const cudnnStatus_t status =
        cudnnSetFilter4dDescriptor(desc_, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, o, c, kh, kw);
    if (status != CUDNN_STATUS_SUCCESS) cudnnDestroyFilterDescriptor(desc_);
    CUDNN_CHECK(status);
  }
  ~FilterDescriptor() { cudnnDestroyFilterDescriptor(desc_); }
  FilterDescriptor(const FilterDescriptor&) = delete;
  FilterDescriptor& operator=(const FilterDescriptor&) = delete;
  cudnnFilterDescriptor_t get() const { return desc_; }

 private:
  cudnnFilterDescriptor_t desc_ = nullptr;
};

// Cross-correlation (what every framework calls convolution) with square stride and padding,
// no dilation, float accumulation.
class ConvolutionDescriptor {
 public:
  ConvolutionDescriptor(int pad, int stride) {
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&desc_));
    const cudnnStatus_t status = cudnnSetConvolution2dDescriptor(
        desc_, pad, pad, stride, stride, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
    if (status != CUDNN_STATUS_SUCCESS) cudnnDestroyConvolutionDescriptor(desc_);
    CUDNN_CHECK(status);
  }
  ~ConvolutionDescriptor() { cudnnDestroyConvolutionDescriptor(desc_); }
  ConvolutionDescriptor(const ConvolutionDescriptor&) = delete;
  ConvolutionDescriptor& operator=(const ConvolutionDescriptor&) = delete;
  cudnnConvolutionDescriptor_t get() const { return desc_; }
  void set_math(cudnnMathType_t math) const {
    CUDNN_CHECK(cudnnSetConvolutionMathType(desc_, math));
  }

 private:
  cudnnConvolutionDescriptor_t desc_ = nullptr;
};

// ---- Plans --------------------------------------------------------------------------------------

struct AlgoChoice {
  bool ready = false;
  int algo = 0;          // a cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t
  size_t workspace = 0;  // bytes
  cudnnMathType_t math = CUDNN_FMA_MATH;
};

int checked_int(int64_t v, const char* what) {
  BUSI_CHECK(v >= 0 && v <= INT_MAX, "conv2d (cuDNN): ", what, " = ", v,
             " exceeds cuDNN's 32-bit sizes");
  return static_cast<int>(v);
}

// The descriptors of one convolution shape, and the algorithms chosen for it.
struct ConvPlan {
  ConvPlan(const Conv2dShape& s, bool tf32_, bool deterministic_)
      : x(checked_int(s.N, "N"), checked_int(s.C, "C"), checked_int(s.H, "H"),
          checked_int(s.W, "W")),
        y(checked_int(s.N, "N"), checked_int(s.O, "O"), checked_int(s.Ho, "Ho"),
          checked_int(s.Wo, "Wo")),
        w(checked_int(s.O, "O"), checked_int(s.C, "C"), checked_int(s.kH, "kH"),
          checked_int(s.kW, "kW")),
        conv(checked_int(s.pad, "pad"), checked_int(s.stride, "stride")),
        tf32(tf32_),
        deterministic(deterministic_) {
    // The descriptors must agree with the engine's output-size rule.
    int n = 0, c = 0, h = 0, v = 0;
    CUDNN_CHECK(
        cudnnGetConvolution2dForwardOutputDim(conv.get(), x.get(), w.get(), &n, &c, &h, &v));
    BUSI_CHECK(n == s.N && c == s.O && h == s.Ho && v == s.Wo, "conv2d (cuDNN): output ", n, "x", c,
               "x", h, "x", v, " differs from the expected ", s.N, "x", s.O, "x", s.Ho, "x", s.Wo);
    set_search_math();
  }
  // Searches run with the math the switch allows; execution then sets the chosen algorithm's
  // own type (so a search must reset what the previous direction's choice left behind).
  void set_search_math() const { conv.set_math(tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH); }
  TensorDescriptor x, y;  // (N, C, H, W) and (N, O, Ho, Wo)
  FilterDescriptor w;     // (O, C, kH, kW)
  ConvolutionDescriptor conv;
  bool tf32, deterministic;
  AlgoChoice forward, backward_data, backward_filter;
};

using PlanKey = std::tuple<int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                           int64_t, int64_t, bool, bool, bool>;

// cuDNN's 4-d descriptors count elements in 32 bits.
void check_tensor_sizes(const Conv2dShape& s) {
  BUSI_CHECK(s.N * s.C * s.H * s.W <= INT_MAX && s.N * s.O * s.Ho * s.Wo <= INT_MAX,
             "conv2d (cuDNN): a tensor of more than 2^31 elements (input ", s.N, "x", s.C, "x", s.H,
             "x", s.W, ", output ", s.N, "x", s.O, "x", s.Ho, "x", s.Wo, "); use a smaller batch");
}

// All cuDNN state of the process: plans by shape, one workspace per device, and the lock that
// serialises their use (ops are issued from one thread in practice; the lock keeps it safe).
struct CudnnState {
  std::mutex mutex;
  std::map<PlanKey, std::unique_ptr<ConvPlan>> plans;
  std::map<int, DeviceBuffer> workspaces;
};
CudnnState& state() {
  static CudnnState* s = new CudnnState;  // never destroyed (see context.cu)
  return *s;
}

// `aligned`: every buffer of the call starts on 16 bytes. Part of the key because cuDNN's search
// runs on the call's own buffers, and an algorithm found on aligned ones (vector loads) is not
// promised to accept the 4-byte-aligned start of a view (narrow0 of a batch).
ConvPlan& plan_for(const Conv2dShape& s, bool aligned) {
  check_tensor_sizes(s);
  const bool tf32 = tf32_enabled(), det = deterministic();
  const PlanKey key{current_device(), s.N,   s.C,  s.H, s.W,    s.O, s.kH, s.kW,
                    s.stride,         s.pad, tf32, det, aligned};
  auto& plans = state().plans;
  auto it = plans.find(key);
  if (it == plans.end()) it = plans.emplace(key, std::make_unique<ConvPlan>(s, tf32, det)).first;
  return *it->second;
}

// The largest workspace an algorithm may have, from what is free now (conv_workspace.h).
size_t workspace_limit() {
  size_t free_bytes = 0, total_bytes = 0;
  CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return conv_workspace_limit(free_bytes, allocator_stats().cached_bytes);
}

// The device's grow-only workspace, at least `bytes` long (the old one goes back to the cache;
// convolutions still queued on it run before the next user of that block).
DeviceBuffer& workspace(size_t bytes) {
  DeviceBuffer& ws = state().workspaces[current_device()];
  if (ws.bytes() < bytes) ws = DeviceBuffer(bytes);
  return ws;
}

// The scratch memory of one timed search (cudnnFind*Ex): cudaMalloc'd for the search and freed
// after it, so a search's large candidates leave nothing behind in the cache. cudaFree waits for
// the device, once per shape and direction. When `bytes` cannot be had, half as much is tried,
// down to nothing (the search then times the algorithms that need no workspace).
class SearchWorkspace {
 public:
  explicit SearchWorkspace(size_t bytes) {
    while (bytes > 0) {
      if (cudaMalloc(&ptr_, bytes) == cudaSuccess) {
        bytes_ = bytes;
        return;
      }
      cudaGetLastError();  // an allocation failure is expected here, not an error to keep
      ptr_ = nullptr;
      bytes = bytes > (size_t(1) << 20) ? bytes / 2 : 0;
    }
  }
  ~SearchWorkspace() {
    if (ptr_) CUDA_WARN(cudaFree(ptr_));
  }
  SearchWorkspace(const SearchWorkspace&) = delete;
  SearchWorkspace& operator=(const SearchWorkspace&) = delete;
  void* get() const { return ptr_; }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// The first usable entry of a cuDNN performance list (ranked best first): succeeded, within
// the workspace limit, deterministic when asked, and with an allowed math type (never the FP16
// down-conversion; with TF32 off only FMA kernels, run with CUDNN_FMA_MATH).
template <typename Perf>
AlgoChoice pick(const std::vector<Perf>& perfs, int returned, const ConvPlan& plan, size_t limit,
                const char* direction) {
  for (int i = 0; i < returned; ++i) {
    const Perf& p = perfs[i];
    if (p.status != CUDNN_STATUS_SUCCESS || p.memory > limit) continue;
    if (plan.deterministic && p.determinism != CUDNN_DETERMINISTIC) continue;
    if (p.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) continue;
    if (!plan.tf32 && p.mathType == CUDNN_TENSOR_OP_MATH) continue;
    AlgoChoice choice;
    choice.ready = true;
    choice.algo = static_cast<int>(p.algo);
    choice.math = plan.tf32 ? p.mathType : CUDNN_FMA_MATH;
    return choice;
  }
  throw Error(detail::concat("conv2d (cuDNN): no usable ", direction, " algorithm among ", returned,
                             " (workspace limit ", limit >> 20, " MiB, deterministic ",
                             plan.deterministic ? "on" : "off", ")"));
}

// The largest workspace among the heuristics' successful candidates, capped.
template <typename Perf>
size_t largest_workspace(const std::vector<Perf>& perfs, int returned, size_t limit) {
  size_t largest = 0;
  for (int i = 0; i < returned; ++i)
    if (perfs[i].status == CUDNN_STATUS_SUCCESS && perfs[i].memory <= limit)
      largest = std::max(largest, perfs[i].memory);
  return largest;
}

// ---- Algorithm choice, one function per direction -----------------------------------------------

AlgoChoice choose_forward(ConvPlan& plan, const float* x, const float* w, float* y) {
  plan.set_search_math();
  cudnnHandle_t handle = cudnn_handle();
  int count = 0, returned = 0;
  CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(handle, &count));
  std::vector<cudnnConvolutionFwdAlgoPerf_t> perfs(std::max(count, 1));
  CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(handle, plan.x.get(), plan.w.get(),
                                                     plan.conv.get(), plan.y.get(), count,
                                                     &returned, perfs.data()));
  size_t limit = workspace_limit();
  if (!plan.deterministic) {
    const SearchWorkspace ws(largest_workspace(perfs, returned, limit));
    limit = ws.bytes();
    CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(
        handle, plan.x.get(), x, plan.w.get(), w, plan.conv.get(), plan.y.get(), y, count,
        &returned, perfs.data(), ws.get(), ws.bytes()));
  }
  AlgoChoice choice = pick(perfs, returned, plan, limit, "forward");
  plan.conv.set_math(choice.math);
  CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(
      handle, plan.x.get(), plan.w.get(), plan.conv.get(), plan.y.get(),
      static_cast<cudnnConvolutionFwdAlgo_t>(choice.algo), &choice.workspace));
  return choice;
}

AlgoChoice choose_backward_data(ConvPlan& plan, const float* w, const float* dy, float* dx) {
  plan.set_search_math();
  cudnnHandle_t handle = cudnn_handle();
  int count = 0, returned = 0;
  CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(handle, &count));
  std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perfs(std::max(count, 1));
  CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, plan.w.get(), plan.y.get(),
                                                          plan.conv.get(), plan.x.get(), count,
                                                          &returned, perfs.data()));
  size_t limit = workspace_limit();
  if (!plan.deterministic) {
    const SearchWorkspace ws(largest_workspace(perfs, returned, limit));
    limit = ws.bytes();
    CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(
        handle, plan.w.get(), w, plan.y.get(), dy, plan.conv.get(), plan.x.get(), dx, count,
        &returned, perfs.data(), ws.get(), ws.bytes()));
  }
  AlgoChoice choice = pick(perfs, returned, plan, limit, "backward-data");
  plan.conv.set_math(choice.math);
  CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(
      handle, plan.w.get(), plan.y.get(), plan.conv.get(), plan.x.get(),
      static_cast<cudnnConvolutionBwdDataAlgo_t>(choice.algo), &choice.workspace));
  return choice;
}

AlgoChoice choose_backward_filter(ConvPlan& plan, const float* x, const float* dy, float* dw) {
  plan.set_search_math();
  cudnnHandle_t handle = cudnn_handle();
  int count = 0, returned = 0;
  CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(handle, &count));
  std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perfs(std::max(count, 1));
  CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, plan.x.get(), plan.y.get(),
                                                            plan.conv.get(), plan.w.get(), count,
                                                            &returned, perfs.data()));
  size_t limit = workspace_limit();
  if (!plan.deterministic) {
    const SearchWorkspace ws(largest_workspace(perfs, returned, limit));
    limit = ws.bytes();
    CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
        handle, plan.x.get(), x, plan.y.get(), dy, plan.conv.get(), plan.w.get(), dw, count,
        &returned, perfs.data(), ws.get(), ws.bytes()));
  }
  AlgoChoice choice = pick(perfs, returned, plan, limit, "backward-filter");
  plan.conv.set_math(choice.math);
  CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(
      handle, plan.x.get(), plan.y.get(), plan.conv.get(), plan.w.get(),
      static_cast<cudnnConvolutionBwdFilterAlgo_t>(choice.algo), &choice.workspace));
  return choice;
}

}  // namespace

// ---- cuDNN entry points -------------------------------------------------------------------------

void conv2d_forward_cudnn(const Conv2dShape& s, const float* x, const float* w, const float* b,
                          float* y, bool relu) {
  if (s.N == 0) return;  // an empty batch: y is empty (and cuDNN refuses a zero-sized descriptor)
  std::lock_guard<std::mutex> lock(state().mutex);
  ConvPlan& plan = plan_for(s, aligned16(x) && aligned16(w) && aligned16(y));
  if (!plan.forward.ready) plan.forward = choose_forward(plan, x, w, y);
  const AlgoChoice& c = plan.forward;
  plan.conv.set_math(c.math);
  DeviceBuffer& ws = workspace(c.workspace);
  const float one = 1.0f, zero = 0.0f;
  CUDNN_CHECK(cudnnConvolutionForward(cudnn_handle(), &one, plan.x.get(), x, plan.w.get(), w,
                                      plan.conv.get(),
                                      static_cast<cudnnConvolutionFwdAlgo_t>(c.algo), ws.get(),
                                      c.workspace, &zero, plan.y.get(), y));
  add_bias_relu(s.N, s.O, s.Ho * s.Wo, b, relu, y);  // one pass; nothing when !b && !relu
}

// dx = transposed convolution of dy with w; dw = correlation of x with dy; db = per-channel sum
// of dy (formulas in kernels/cpu/conv.h). beta = 0: every output is overwritten.
void conv2d_backward_cudnn(const Conv2dShape& s, const float* x, const float* w, const float* dy,
                           float* dx, float* dw, float* db) {
  if (db) channel_sums(s.N, s.O, s.Ho * s.Wo, dy, db);
  if (s.N == 0) {  // an empty batch: dx is empty and dw = 0, as on the CPU (cuDNN refuses N = 0)
    if (dw) fill(dw, 0.0f, s.O * s.C * s.kH * s.kW);
    return;
  }
  if (!dx && !dw) return;
  std::lock_guard<std::mutex> lock(state().mutex);
  // A buffer not passed (nullptr) is aligned: it plays no part.
  ConvPlan& plan =
      plan_for(s, aligned16(x) && aligned16(w) && aligned16(dy) && aligned16(dx) && aligned16(dw));
  const float one = 1.0f, zero = 0.0f;
  if (dx) {
    if (!plan.backward_data.ready) plan.backward_data = choose_backward_data(plan, w, dy, dx);
    const AlgoChoice& c = plan.backward_data;
    plan.conv.set_math(c.math);
    DeviceBuffer& ws = workspace(c.workspace);
    CUDNN_CHECK(cudnnConvolutionBackwardData(cudnn_handle(), &one, plan.w.get(), w, plan.y.get(),
                                             dy, plan.conv.get(),
                                             static_cast<cudnnConvolutionBwdDataAlgo_t>(c.algo),
                                             ws.get(), c.workspace, &zero, plan.x.get(), dx));
  }
  if (dw) {
    if (!plan.backward_filter.ready) plan.backward_filter = choose_backward_filter(plan, x, dy, dw);
    const AlgoChoice& c = plan.backward_filter;
    plan.conv.set_math(c.math);
    DeviceBuffer& ws = workspace(c.workspace);
    CUDNN_CHECK(cudnnConvolutionBackwardFilter(cudnn_handle(), &one, plan.x.get(), x, plan.y.get(),
                                               dy, plan.conv.get(),
                                               static_cast<cudnnConvolutionBwdFilterAlgo_t>(c.algo),
                                               ws.get(), c.workspace, &zero, plan.w.get(), dw));
  }
}

}  // namespace busi::cuda
