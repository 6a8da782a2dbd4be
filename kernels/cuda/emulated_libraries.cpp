// The cuBLAS and cuDNN paths on the emulated device, which cannot run them (they are NVIDIA's
// closed GPU code): each entry point of gemm_cublas.cu and conv_cudnn.cu, which this build leaves
// out, is an error that says so. The engine never reaches them here - the backends default to
// the hand-written kernels and refuse cuBLAS and cuDNN (backend_options.cpp) - but tests and the
// benchmark call them by name and ask libraries_available() first. -DBUSI_CUDA=EMULATE only.
#include "kernels/common/error.h"
#include "kernels/cuda/conv_variants.h"
#include "kernels/cuda/gemm_variants.h"
#include "kernels/cuda/runtime/context.h"
#include "kernels/cuda/runtime/controls.h"

namespace busi::cuda {

namespace {
[[noreturn]] void unavailable(const char* what) {
  throw Error(std::string(what) +
              " cannot run on the emulated CUDA device (-DBUSI_CUDA=EMULATE): "
              "it runs on a real GPU only; the hand-written kernels run here");
}
}  // namespace

bool libraries_available() { return false; }

void library_versions(Versions&) {}  // no cuBLAS or cuDNN here: the fields stay 0

void gemm_cublas(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                 int64_t, float, float*, int64_t) {
  unavailable("cuBLAS (gemm_cublas)");
}

void conv2d_forward_cudnn(const Conv2dShape&, const float*, const float*, const float*, float*,
                          bool) {
  unavailable("cuDNN (conv2d_forward_cudnn)");
}

void conv2d_backward_cudnn(const Conv2dShape&, const float*, const float*, const float*, float*,
                           float*, float*) {
  unavailable("cuDNN (conv2d_backward_cudnn)");
}

}  // namespace busi::cuda
