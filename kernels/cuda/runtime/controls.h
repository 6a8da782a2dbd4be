// The public controls of the CUDA backend for tools and tests: device information, the caching
// allocator's statistics, math and backend switches. Plain C++ (no CUDA headers), so any file can
// include it; the functions exist only in a CUDA build (BUSI_WITH_CUDA), so callers guard their
// calls with #ifdef BUSI_WITH_CUDA (or busi::cuda_compiled()) and busi::cuda_available().
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace busi::cuda {

// ---- Device -------------------------------------------------------------------------------------

// True in a -DBUSI_CUDA=EMULATE build: the CUDA device is the emulator (kernels/cuda/emulator/),
// which runs the engine's own kernels on the CPU, for tests and kernel development.
bool emulated();
// True when cuBLAS and cuDNN can run (a real GPU); false on the emulated device, where matrix
// products and convolutions always use the hand-written kernels.
bool libraries_available();

struct DeviceInfo {
  int index = 0;
  std::string name;                // "NVIDIA H100 80GB HBM3"
  int cc_major = 0, cc_minor = 0;  // compute capability
  int sm_count = 0;                // streaming multiprocessors
  size_t total_bytes = 0;          // device memory
  size_t l2_bytes = 0;             // L2 cache
  double clock_ghz = 0.0;          // peak SM clock (0 if the driver does not say)
  double fp32_peak_tflops = 0.0;   // SMs x FP32 lanes x 2 (FMA) x clock; 0 if unknown
  double memory_peak_gbs = 0.0;    // bus width x memory clock x 2 (DDR); 0 if unknown
};
// The current device (device 0 unless the program selected another).
DeviceInfo device_info();
// The versions of what a GPU run depends on, as numbers (13000 is CUDA 13.0, 91900 cuDNN 9.19.0).
// The library fields are 0 on the emulated device, which has no cuBLAS or cuDNN.
struct Versions {
  int driver = 0;         // the newest CUDA the driver supports (cudaDriverGetVersion)
  int runtime = 0;        // the CUDA runtime in this binary (cudaRuntimeGetVersion)
  int cudnn_built = 0;    // CUDNN_VERSION of the headers this build was compiled against
  int cudnn_loaded = 0;   // cudnnGetVersion() of the library loaded now
  int cublas_loaded = 0;  // cuBLAS's major * 10000 + minor * 100 + patch (cublasGetProperty)
};
Versions versions();
// Empty when the loaded cuDNN can serve this build (cuDNN keeps its API and ABI within a major
// version, and a library at least as new as the headers has every call the build makes); else
// one line saying why not.
std::string cudnn_version_problem(const Versions& v);

// Waits until every kernel and copy queued on the compute stream has finished.
void synchronize();
// One line for the start of every tool's log: device, math mode and backends, e.g.
// "cuda:0 NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB), TF32 on, GEMM cublas, conv cudnn,
// deterministic off, cuDNN 91900".
std::string runtime_description();

// How many times the engine has made the host wait for the device: synchronize(), each copy to
// the host, each host-to-device copy too large to stage, each staging slot still in use
// (kernels/cuda/runtime/memory.cu). A training step needs one, to read its loss.
int64_t host_waits();

// ---- Caching allocator (kernels/cuda/runtime/allocator.cu) -----------------------------------------------

struct AllocatorStats {
  size_t allocated_bytes = 0;    // in blocks handed out now (sizes rounded up to their bin)
  size_t peak_bytes = 0;         // the largest allocated_bytes since start (or reset_peak_bytes)
  size_t cached_bytes = 0;       // in free blocks kept for reuse
  int64_t num_allocs = 0;        // device_malloc calls
  int64_t num_cache_hits = 0;    // ... served from the cache
  int64_t num_cuda_mallocs = 0;  // cudaMalloc calls (a training step's steady state makes none)
  int64_t num_cuda_frees = 0;    // cudaFree calls (only empty_cache and the out-of-memory retry)
};
AllocatorStats allocator_stats();
void reset_peak_bytes();
// Returns every cached (free) block to the driver.
void empty_cache();

// ---- Math and backend switches (kernels/cuda/runtime/backend_options.cpp) --------------------------------
// Each starts from an environment variable, read once on first use, and can be changed at any
// time by its setter (the parity tests switch TF32 off; tools map --deterministic).

// TF32 tensor-core math in cuBLAS GEMMs and cuDNN convolutions: on by default (like PyTorch's
// convolutions), BUSI_TF32=0 turns it off. TF32 rounds the inputs of each product to 10 mantissa
// bits (relative error about 1e-3 instead of 1e-7).
void set_tf32(bool on);
bool tf32_enabled();

// Which GEMM runs matmul, linear and cuda::gemm: cuBLAS (default) or the hand-written tiled
// SGEMM of kernels/cuda/gemm.cu. Environment: BUSI_GEMM=cublas|handwritten.
enum class GemmBackend { Cublas, Handwritten };
void set_gemm_backend(GemmBackend backend);
GemmBackend gemm_backend();

// Which convolution runs conv2d: cuDNN (default) or the hand-written implicit-GEMM kernels of
// kernels/cuda/conv_direct.cu. Environment: BUSI_CONV=cudnn|handwritten.
enum class ConvBackend { Cudnn, Handwritten };
void set_conv_backend(ConvBackend backend);
ConvBackend conv_backend();

// Deterministic algorithms only (tools' --deterministic; environment BUSI_DETERMINISTIC=1):
// cuDNN is restricted to its deterministic algorithms, chosen by heuristics rather than by
// timing. The engine's own kernels are deterministic whatever this switch says.
void set_deterministic(bool on);
bool deterministic();

// Synchronise after every kernel launch, so an asynchronous error is reported by the launch that
// caused it (environment BUSI_CUDA_SYNC=1). Slow: for debugging only.
void set_sync_after_launch(bool on);
bool sync_after_launch();

// Exact-size, uncached device memory (environment BUSI_CUDA_ALLOC=exact; default cache): every
// allocation is a cudaMalloc of exactly the bytes asked for and every free a cudaFree, so that
// compute-sanitizer's memcheck sees an access one element past a tensor (the cache rounds sizes
// up and reuses blocks, so such an access stays inside a block it knows). Slow: cudaFree waits
// for the device. For memory checking only.
void set_exact_allocation(bool on);
bool exact_allocation();

const char* gemm_backend_name(GemmBackend backend);  // "cublas" / "handwritten"
const char* conv_backend_name(ConvBackend backend);  // "cudnn" / "handwritten"

}  // namespace busi::cuda
