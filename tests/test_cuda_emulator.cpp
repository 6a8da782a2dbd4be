// The emulated CUDA device itself (kernels/cuda/emulator/), below the engine: its semantics
// (indices, __syncthreads, warp functions, shared memory, launch limits, stream order, copies)
// and, on copies of real kernels with one bug planted in each, that it catches each kind of bug:
// a removed __syncthreads, a warp-synchronous assumption, an off-by-one bound, a shared-memory
// overrun, a 2,048-thread block, a lane that skips a shuffle, divergent barriers. This executable
// is always built with AddressSanitizer and UBSan (tests/CMakeLists.txt): the out-of-bounds bugs
// are caught by ASan, which stops the process, so each of those runs in a child process (this
// executable again, with BUSI_EMU_CHILD naming the bug) whose report the parent reads.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cuda_runtime.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#define LAUNCH(kernel, grid, block, shared, ...)                                                 \
  ::busi::emu::launch(::busi::emu::KernelSite{#kernel, __FILE__, __LINE__}, kernel, grid, block, \
                      shared, nullptr, __VA_ARGS__)

namespace {

// ---- Device memory helpers ----------------------------------------------------------------------

template <class T>
T* device_array(size_t n) {
  void* p = nullptr;
  REQUIRE(cudaMalloc(&p, n * sizeof(T)) == cudaSuccess);
  return static_cast<T*>(p);
}

template <class T>
std::vector<T> to_host(const T* d, size_t n) {
  std::vector<T> h(n);
  REQUIRE(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess);
  return h;
}

template <class T>
T* to_device(const std::vector<T>& h) {
  T* d = device_array<T>(h.size());
  REQUIRE(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess);
  return d;
}

// After a planted fault: the sticky error, then a clean device for the next case.
std::string fault_and_reset() {
  const cudaError_t e = cudaDeviceSynchronize();
  const std::string message = busi::emu::fault_message();
  CHECK(e == cudaErrorLaunchFailure);
  CHECK(cudaGetLastError() == cudaErrorLaunchFailure);  // sticky, as on a GPU
  CHECK(cudaDeviceReset() == cudaSuccess);
  CHECK(cudaGetLastError() == cudaSuccess);
  return message;
}

// ---- Kernels with the right semantics -----------------------------------------------------------

__global__ void record_indices_kernel(unsigned* out) {
  const unsigned block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
  const unsigned thread = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
  const unsigned per_block = blockDim.x * blockDim.y * blockDim.z;
  unsigned* slot = out + 4 * (block * per_block + thread);
  slot[0] = block;
  slot[1] = thread;
  slot[2] = per_block;
  slot[3] += 1;  // zeroed by the host: each thread must run exactly once
}

// Each thread writes its slot, waits, then reads its neighbour's: right only with the barrier.
__global__ void rotate_through_shared_kernel(int* out) {
  __shared__ int slots[256];
  const int t = threadIdx.x;
  slots[t] = t + 1000 * static_cast<int>(blockIdx.x);
  __syncthreads();
  out[blockIdx.x * blockDim.x + t] = slots[(t + 1) % blockDim.x];
}

__global__ void shuffles_kernel(int* out) {
  const int lane = threadIdx.x;
  const int v = 100 + lane;
  out[0 * 32 + lane] = __shfl_xor_sync(0xffffffffu, v, 1);
  out[1 * 32 + lane] = __shfl_down_sync(0xffffffffu, v, 3);
  out[2 * 32 + lane] = __shfl_up_sync(0xffffffffu, v, 2, 8);
  out[3 * 32 + lane] = __shfl_sync(0xffffffffu, v, 5, 16);
  out[4 * 32 + lane] = static_cast<int>(__ballot_sync(0xffffffffu, lane % 3 == 0));
}

// Reads the fresh dynamic shared memory, then shows that it is per block.
__global__ void dynamic_shared_kernel(float* out) {
  float* shared = static_cast<float*>(busi::emu::dynamic_shared_memory());
  if (threadIdx.x == 0) out[2 * blockIdx.x] = shared[0];
  __syncthreads();
  if (threadIdx.x == 0) shared[0] = static_cast<float>(blockIdx.x);
  __syncthreads();
  if (threadIdx.x == 1) out[2 * blockIdx.x + 1] = shared[0];
}

__global__ void record_order_kernel(std::atomic<int>* clock, int* order) {
  order[threadIdx.x] = clock->fetch_add(1);
}

__global__ void fill_kernel(float* x, float value, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    x[i] = value;
}

// ---- Copies of real kernels, right and with one bug each ----------------------------------------
// block_sum of kernels/cuda/common.cuh with sum_final_kernel of kernels/cuda/reduce.cu.

template <class T>
T warp_sum(T v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

enum class Bug { None, NoSecondBarrier, LaneSkipsShuffle, SharedOverrun };

template <Bug kBug>
double block_sum(double v, double* scratch) {
  if (kBug == Bug::LaneSkipsShuffle) {
    // The bug: lane 5 skips the butterfly (a "fast path" for a lane thought to hold zero).
    if ((threadIdx.x & 31) != 5) v = warp_sum(v);
  } else {
    v = warp_sum(v);
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  // The bug: one slot too far (scratch holds 32).
  if (lane == 0) scratch[kBug == Bug::SharedOverrun ? warp + 1 : warp] = v;
  if (kBug != Bug::NoSecondBarrier) __syncthreads();  // the bug: this barrier removed
  const int warps = blockDim.x >> 5;
  v = static_cast<int>(threadIdx.x) < warps ? scratch[threadIdx.x] : 0.0;
  if (warp == 0) v = warp_sum(v);
  return v;
}

template <Bug kBug>
__global__ void sum_final_kernel(const double* partial, int count, float* out) {
  __shared__ double scratch[32];
  double acc = 0.0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) acc += partial[i];
  const double total = block_sum<kBug>(acc, scratch);
  if (threadIdx.x == 0) out[blockIdx.x] = static_cast<float>(total);
}

// The classic pre-Volta warp reduction over shared memory: no __syncwarp between the steps,
// relying on the 32 lanes running in lockstep, which Volta and later GPUs do not promise.
__global__ void warp_synchronous_sum_kernel(const float* x, float* out) {
  __shared__ float s[64];
  const int t = threadIdx.x;
  s[t] = x[t];
  s[t + 32] = 0.0f;
  volatile float* v = s;
  // The bug: lane t reads v[t + 16] whether or not lane t + 16 has added to it yet.
  for (int offset = 16; offset > 0; offset >>= 1) v[t] = v[t] + v[t + offset];
  if (t == 0) out[0] = v[0];
}

// The grid-stride loop of fill_kernel (kernels/cuda/runtime/memory.cu) with `<=` for `<`.
__global__ void fill_off_by_one_kernel(float* x, float value, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i <= n;
       i += int64_t(gridDim.x) * blockDim.x)
    x[i] = value;
}

__global__ void early_exit_before_barrier_kernel(float* x, int n) {
  __shared__ float s[256];
  const int t = threadIdx.x;
  if (t >= n) return;  // the bug: these threads never reach the barrier below
  s[t] = x[t];
  __syncthreads();
  x[t] = s[(t + 1) % n];
}

__global__ void divergent_barriers_kernel(float* x) {
  if (threadIdx.x < 64) {
    x[threadIdx.x] = 1.0f;
    __syncthreads();
  } else {
    __syncthreads();  // the bug: another barrier, reached by the other threads
    x[threadIdx.x] = 2.0f;
  }
}

// Runs the sum of scale * (1..count) (exact in float up to 2^24) with the given bug; returns
// what the kernel says.
template <Bug kBug>
float run_block_sum(int count, int threads, int scale = 1) {
  std::vector<double> values(count);
  for (int i = 0; i < count; ++i) values[i] = double(i + 1) * scale;
  double* partial = to_device(values);
  float* out = device_array<float>(1);
  REQUIRE(LAUNCH(sum_final_kernel<kBug>, 1, threads, 0, partial, count, out) == cudaSuccess);
  float got = 0.0f;
  if (cudaMemcpy(&got, out, sizeof got, cudaMemcpyDeviceToHost) != cudaSuccess) got = NAN;
  cudaFree(partial);
  cudaFree(out);
  return got;
}

// ---- Children: a planted out-of-bounds bug, which AddressSanitizer stops the process on --------

// (No doctest assertions here: a child runs outside any test case.)
int run_child(const std::string& which) {
  if (which == "off_by_one") {
    const int64_t n = 1000;
    float* x = nullptr;
    cudaMalloc(&x, n * sizeof(float));
    LAUNCH(fill_off_by_one_kernel, 4, 256, 0, x, 1.0f, n);
    cudaDeviceSynchronize();
  } else if (which == "shared_overrun") {
    double* partial = nullptr;
    float* out = nullptr;
    cudaMalloc(&partial, 4096 * sizeof(double));
    cudaMemset(partial, 0, 4096 * sizeof(double));
    cudaMalloc(&out, sizeof(float));
    // 1,024 threads are 32 warps: warp 31 writes scratch[32].
    LAUNCH(sum_final_kernel<Bug::SharedOverrun>, 1, 1024, 0, partial, 4096, out);
    cudaDeviceSynchronize();
  } else {
    std::fprintf(stderr, "unknown child %s\n", which.c_str());
    return 3;
  }
  std::printf("child %s: finished without a report\n", which.c_str());
  return 0;
}

// Runs this executable as a child for one planted bug; returns its exit status and output.
int run_as_child(const std::string& which, std::string& output) {
  char self[4096] = {};
  REQUIRE(readlink("/proc/self/exe", self, sizeof self - 1) > 0);
  // The child's own sanitizer settings, whatever the parent's: UBSan may print (a bad array
  // index) and go on, ASan stops the process at the bad access with its report.
  const std::string command = "BUSI_EMU_CHILD=" + which +
                              " ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 '" +
                              self + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, got);
  return pclose(pipe);
}

}  // namespace

// ---- Semantics ----------------------------------------------------------------------------------

TEST_CASE("emulator: the device says it is emulated and H100-like") {
  cudaDeviceProp p;
  REQUIRE(cudaGetDeviceProperties(&p, 0) == cudaSuccess);
  CHECK(std::string(p.name).find("emulated") != std::string::npos);
  CHECK(p.major == 9);
  CHECK(p.multiProcessorCount == 132);
  CHECK(p.maxThreadsPerBlock == 1024);
  CHECK(p.sharedMemPerBlock == 48u << 10);
  int count = 0;
  CHECK(cudaGetDeviceCount(&count) == cudaSuccess);
  CHECK(count == 1);
  CHECK(cudaGetDeviceProperties(&p, 1) == cudaErrorInvalidDevice);
  CHECK(cudaGetLastError() == cudaErrorInvalidDevice);
  CHECK(cudaGetLastError() == cudaSuccess);  // read once, then cleared
}

TEST_CASE("emulator: every thread of a 3-d grid of 3-d blocks runs once with its indices") {
  const dim3 grid(3, 2, 2), block(8, 4, 2);
  const unsigned blocks = 12, per_block = 64;
  unsigned* out = device_array<unsigned>(4 * blocks * per_block);
  REQUIRE(cudaMemset(out, 0, 4 * blocks * per_block * sizeof(unsigned)) == cudaSuccess);
  REQUIRE(LAUNCH(record_indices_kernel, grid, block, 0, out) == cudaSuccess);
  const std::vector<unsigned> h = to_host(out, 4 * blocks * per_block);
  bool all = true;
  for (unsigned b = 0; b < blocks; ++b)
    for (unsigned t = 0; t < per_block; ++t) {
      const unsigned* slot = &h[4 * (b * per_block + t)];
      all = all && slot[0] == b && slot[1] == t && slot[2] == per_block && slot[3] == 1;
    }
  CHECK(all);
  cudaFree(out);
}

TEST_CASE("emulator: __syncthreads is a barrier and shared memory is per block") {
  const int blocks = 40, threads = 256;
  int* out = device_array<int>(blocks * threads);
  for (int repeat = 0; repeat < 5; ++repeat) {  // each launch runs in another thread order
    REQUIRE(LAUNCH(rotate_through_shared_kernel, blocks, threads, 0, out) == cudaSuccess);
    const std::vector<int> h = to_host(out, blocks * threads);
    bool right = true;
    for (int b = 0; b < blocks; ++b)
      for (int t = 0; t < threads; ++t)
        right = right && h[b * threads + t] == (t + 1) % threads + 1000 * b;
    CHECK(right);
  }
  cudaFree(out);
}

TEST_CASE("emulator: warp shuffles and ballots exchange values as CUDA defines them") {
  int* out = device_array<int>(5 * 32);
  REQUIRE(LAUNCH(shuffles_kernel, 1, 32, 0, out) == cudaSuccess);
  const std::vector<int> h = to_host(out, 5 * 32);
  unsigned ballot = 0;
  for (int l = 0; l < 32; l += 3) ballot |= 1u << l;
  for (int l = 0; l < 32; ++l) {
    INFO("lane " << l);
    CHECK(h[l] == 100 + (l ^ 1));
    CHECK(h[32 + l] == 100 + (l + 3 < 32 ? l + 3 : l));  // down: the last 3 keep theirs
    CHECK(h[64 + l] == 100 + (l % 8 >= 2 ? l - 2 : l));  // up within groups of 8
    CHECK(h[96 + l] == 100 + (l / 16) * 16 + 5);         // lane 5 of each half
    CHECK(static_cast<unsigned>(h[128 + l]) == ballot);
  }
  cudaFree(out);
}

TEST_CASE("emulator: the order of threads between barriers changes from launch to launch") {
  std::atomic<int>* clock = nullptr;
  REQUIRE(cudaMalloc(&clock, sizeof(std::atomic<int>)) == cudaSuccess);
  int* order = device_array<int>(256);
  std::vector<std::vector<int>> orders;
  for (int launch = 0; launch < 3; ++launch) {
    new (clock) std::atomic<int>(0);  // device memory is host memory here
    REQUIRE(LAUNCH(record_order_kernel, 1, 256, 0, clock, order) == cudaSuccess);
    orders.push_back(to_host(order, 256));
  }
  std::vector<int> sorted = orders[0];
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 256; ++i) REQUIRE(sorted[i] == i);  // each thread once
  int in_place = 0;
  for (int i = 0; i < 256; ++i) in_place += orders[0][i] == i;
  CHECK(in_place < 32);  // not thread 0, 1, 2, ... in turn
  CHECK(orders[0] != orders[1]);
  CHECK(orders[1] != orders[2]);
  cudaFree(clock);
  cudaFree(order);
}

TEST_CASE("emulator: dynamic shared memory: fresh per block, 48 KiB unless opted in") {
  float* out = device_array<float>(2 * 4);
  REQUIRE(LAUNCH(dynamic_shared_kernel, 4, 32, 1024, out) == cudaSuccess);
  const std::vector<float> h = to_host(out, 2 * 4);
  for (int b = 0; b < 4; ++b) {
    CHECK(std::isnan(h[2 * b]));  // never written: garbage (NaN here), not the last block's
    CHECK(h[2 * b + 1] == static_cast<float>(b));
  }
  // The limit of a real launch, and its error; then the opt-in.
  CHECK(LAUNCH(dynamic_shared_kernel, 1, 32, (48 << 10) + 4, out) == cudaErrorInvalidValue);
  CHECK(cudaGetLastError() == cudaErrorInvalidValue);
  CHECK(cudaFuncSetAttribute(dynamic_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             100 << 10) == cudaSuccess);
  CHECK(LAUNCH(dynamic_shared_kernel, 1, 32, (48 << 10) + 4, out) == cudaSuccess);
  CHECK(cudaFuncSetAttribute(dynamic_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             228 << 10) == cudaErrorInvalidValue);
  CHECK(cudaDeviceSynchronize() == cudaSuccess);
  cudaGetLastError();
  cudaFree(out);
}

TEST_CASE("emulator: launches outside the hardware's limits fail as on a GPU, and only them") {
  float* x = device_array<float>(16);
  const struct {
    dim3 grid, block;
  } bad[] = {{1, 2048},
             {1, 1025},
             {1, dim3(1024, 1, 2)},
             {1, dim3(1, 1, 65)},
             {dim3(1, 65536), 32},
             {dim3(1, 1, 65536), 32},
             {0, 32},
             {1, 0}};
  for (const auto& b : bad) {
    INFO("grid (" << b.grid.x << "," << b.grid.y << "," << b.grid.z << ") block (" << b.block.x
                  << "," << b.block.y << "," << b.block.z << ")");
    CHECK(LAUNCH(fill_kernel, b.grid, b.block, 0, x, 1.0f, int64_t(16)) ==
          cudaErrorInvalidConfiguration);
    CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
    CHECK(std::string(cudaGetErrorString(cudaErrorInvalidConfiguration)) ==
          "invalid configuration argument");
  }
  // Not sticky: the next launch works.
  CHECK(LAUNCH(fill_kernel, 1, dim3(32, 32), 0, x, 2.0f, int64_t(16)) == cudaSuccess);
  CHECK(to_host(x, 16) == std::vector<float>(16, 2.0f));
  cudaFree(x);
}

TEST_CASE("emulator: streams run in order; queued work is done when the host waits") {
  const size_t n = 1000;
  float* a = device_array<float>(n);
  float* b = device_array<float>(n);
  cudaStream_t s = nullptr;
  REQUIRE(cudaStreamCreateWithFlags(&s, cudaStreamDefault) == cudaSuccess);
  // A host-to-device copy reads its source when it is called.
  std::vector<float> source(n, 1.0f);
  REQUIRE(cudaMemcpyAsync(a, source.data(), n * sizeof(float), cudaMemcpyHostToDevice, s) ==
          cudaSuccess);
  source.assign(n, 5.0f);
  REQUIRE(busi::emu::launch({"fill_kernel", __FILE__, __LINE__}, fill_kernel, 4, 256, 0, s, b, 3.0f,
                            int64_t(n)) == cudaSuccess);
  REQUIRE(cudaMemcpyAsync(a, b, n * sizeof(float), cudaMemcpyDeviceToDevice, s) == cudaSuccess);
  // Nothing has run yet (device memory is host memory here, so the host can look).
  CHECK(std::isnan(b[0]));
  CHECK(cudaStreamQuery(s) == cudaErrorNotReady);
  REQUIRE(cudaStreamSynchronize(s) == cudaSuccess);
  CHECK(cudaStreamQuery(s) == cudaSuccess);
  CHECK(to_host(a, n) == std::vector<float>(n, 3.0f));  // copy after fill, in issue order
  REQUIRE(cudaMemsetAsync(a, 0, n * sizeof(float), s) == cudaSuccess);
  CHECK(a[0] == 3.0f);
  std::vector<float> back(n);
  REQUIRE(cudaMemcpyAsync(back.data(), a, n * sizeof(float), cudaMemcpyDeviceToHost, s) ==
          cudaSuccess);
  CHECK(back == std::vector<float>(n, 0.0f));  // to pageable host memory: done on return
  cudaEvent_t start, stop;
  REQUIRE(cudaEventCreate(&start) == cudaSuccess);
  REQUIRE(cudaEventCreate(&stop) == cudaSuccess);
  REQUIRE(cudaEventRecord(start, s) == cudaSuccess);
  REQUIRE(cudaEventRecord(stop, s) == cudaSuccess);
  float ms = -1.0f;
  CHECK(cudaEventElapsedTime(&ms, start, stop) == cudaErrorNotReady);
  REQUIRE(cudaEventSynchronize(stop) == cudaSuccess);
  CHECK(cudaEventElapsedTime(&ms, start, stop) == cudaSuccess);
  CHECK(ms >= 0.0f);
  cudaGetLastError();
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaStreamDestroy(s);
  cudaFree(a);
  cudaFree(b);
}

TEST_CASE("emulator: a copy from pinned host memory reads it when the copy runs") {
  // A GPU's DMA engine reads pinned memory when it gets to the copy, so a pinned buffer changed
  // before then sends the new bytes; pageable memory is read (staged) when the copy is called.
  const size_t n = 64;
  float* a = device_array<float>(n);
  float* b = device_array<float>(n);
  float* pinned = nullptr;
  REQUIRE(cudaMallocHost(reinterpret_cast<void**>(&pinned), n * sizeof(float)) == cudaSuccess);
  std::fill(pinned, pinned + n, 1.0f);
  std::vector<float> pageable(n, 1.0f);
  cudaEvent_t done;
  REQUIRE(cudaEventCreateWithFlags(&done, cudaEventDisableTiming) == cudaSuccess);
  REQUIRE(cudaMemcpyAsync(a, pinned, n * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
  REQUIRE(cudaMemcpyAsync(b, pageable.data(), n * sizeof(float), cudaMemcpyHostToDevice) ==
          cudaSuccess);
  REQUIRE(cudaEventRecord(done) == cudaSuccess);
  CHECK(cudaEventQuery(done) == cudaErrorNotReady);
  std::fill(pinned, pinned + n, 2.0f);
  pageable.assign(n, 2.0f);
  REQUIRE(cudaEventSynchronize(done) == cudaSuccess);
  CHECK(cudaEventQuery(done) == cudaSuccess);
  CHECK(to_host(a, n) == std::vector<float>(n, 2.0f));
  CHECK(to_host(b, n) == std::vector<float>(n, 1.0f));
  CHECK(cudaFreeHost(pinned + 1) == cudaErrorInvalidValue);
  cudaGetLastError();
  CHECK(cudaFreeHost(pinned) == cudaSuccess);
  cudaEventDestroy(done);
  cudaFree(a);
  cudaFree(b);
}

TEST_CASE("emulator: copies and frees outside device allocations are refused") {
  float* a = device_array<float>(10);
  std::vector<float> host(20);
  CHECK(cudaMemcpy(host.data(), a, 11 * sizeof(float), cudaMemcpyDeviceToHost) ==
        cudaErrorInvalidValue);
  CHECK(cudaMemcpy(a + 5, host.data(), 6 * sizeof(float), cudaMemcpyHostToDevice) ==
        cudaErrorInvalidValue);
  CHECK(cudaMemcpy(host.data(), host.data() + 10, 4, cudaMemcpyDeviceToHost) ==
        cudaErrorInvalidValue);
  CHECK(cudaMemset(a, 0, 41) == cudaErrorInvalidValue);
  CHECK(cudaFree(a + 1) == cudaErrorInvalidValue);
  void* huge = nullptr;
  CHECK(cudaMalloc(&huge, size_t(1) << 50) == cudaErrorMemoryAllocation);
  CHECK(huge == nullptr);
  cudaGetLastError();
  CHECK(cudaFree(a) == cudaSuccess);
}

// ---- Planted bugs -------------------------------------------------------------------------------

TEST_CASE("emulator catches: a removed __syncthreads (block_sum without its second barrier)") {
  // The reader of each warp's partial sum can run before its writer: a wrong sum in most
  // launches, whatever the seed (each launch draws a new order). Each launch sums other values
  // (every warp's partial sum changes): static __shared__ memory keeps what the last block left
  // (see docs/cuda.md), and a stale partial sum of the same values would be right by luck.
  int wrong = 0;
  for (int launch = 0; launch < 4; ++launch) {
    const float want = 2048.0f * 2049.0f / 2.0f * static_cast<float>(launch + 1);
    CHECK(run_block_sum<Bug::None>(2048, 256, launch + 1) == want);
    wrong += run_block_sum<Bug::NoSecondBarrier>(2048, 256, launch + 1) != want;
  }
  CHECK(wrong >= 3);
}

TEST_CASE("emulator catches: a warp-synchronous reduction without __syncwarp") {
  std::vector<float> values(32);
  for (int i = 0; i < 32; ++i) values[i] = static_cast<float>(i + 1);
  float* x = to_device(values);
  float* out = device_array<float>(1);
  int wrong = 0;
  for (int launch = 0; launch < 4; ++launch) {
    REQUIRE(LAUNCH(warp_synchronous_sum_kernel, 1, 32, 0, x, out) == cudaSuccess);
    wrong += to_host(out, 1)[0] != 528.0f;  // 1 + ... + 32
  }
  CHECK(wrong >= 3);
  cudaFree(x);
  cudaFree(out);
}

TEST_CASE("emulator catches: a lane that skips a shuffle") {
  run_block_sum<Bug::LaneSkipsShuffle>(4096, 256);
  const std::string fault = fault_and_reset();
  CHECK(fault.find("sum_final_kernel") != std::string::npos);
  CHECK(fault.find("__shfl_xor_sync") != std::string::npos);
  CHECK(fault.find("lane 5 ") != std::string::npos);
  CHECK(fault.find("BUSI_EMU_SEED=") != std::string::npos);
  MESSAGE("caught: " << fault);
}

TEST_CASE("emulator catches: threads that return before a __syncthreads the others reach") {
  float* x = device_array<float>(256);
  REQUIRE(LAUNCH(early_exit_before_barrier_kernel, 1, 256, 0, x, 200) == cudaSuccess);
  const std::string fault = fault_and_reset();
  CHECK(fault.find("every thread of a block must reach each __syncthreads()") != std::string::npos);
  MESSAGE("caught: " << fault);
}

TEST_CASE("emulator catches: two different __syncthreads in divergent code") {
  float* x = device_array<float>(128);
  REQUIRE(LAUNCH(divergent_barriers_kernel, 1, 128, 0, x) == cudaSuccess);
  const std::string fault = fault_and_reset();
  CHECK(fault.find("divergent __syncthreads()") != std::string::npos);
  MESSAGE("caught: " << fault);
}

TEST_CASE("emulator catches: a block of 2,048 threads") {
  float* x = device_array<float>(4096);
  CHECK(LAUNCH(fill_kernel, 2, 2048, 0, x, 1.0f, int64_t(4096)) == cudaErrorInvalidConfiguration);
  CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
  cudaFree(x);
}

TEST_CASE("emulator catches (AddressSanitizer): an off-by-one bound in a grid-stride loop") {
  std::string output;
  const int status = run_as_child("off_by_one", output);
  INFO(output);
  CHECK(status != 0);
  CHECK(output.find("ERROR: AddressSanitizer: heap-buffer-overflow") != std::string::npos);
  CHECK(output.find("WRITE of size 4") != std::string::npos);
  CHECK(output.find("finished without a report") == std::string::npos);
}

TEST_CASE("emulator catches (AddressSanitizer): a shared-memory overrun") {
  std::string output;
  const int status = run_as_child("shared_overrun", output);
  INFO(output);
  CHECK(status != 0);
  CHECK(output.find("ERROR: AddressSanitizer: global-buffer-overflow") != std::string::npos);
  CHECK(output.find("scratch") != std::string::npos);  // ASan names the shared variable
  CHECK(output.find("finished without a report") == std::string::npos);
}

int main(int argc, char** argv) {
  if (const char* child = std::getenv("BUSI_EMU_CHILD")) return run_child(child);
  doctest::Context context(argc, argv);
  const int status = context.run();
  if (status != 0)
    std::printf("emulated CUDA device: thread-order seed %llu (rerun with BUSI_EMU_SEED=%llu)\n",
                static_cast<unsigned long long>(busi::emu::thread_order_seed()),
                static_cast<unsigned long long>(busi::emu::thread_order_seed()));
  return status;
}
