// What emulation costs (-DBUSI_CUDA=EMULATE builds only): the time per CUDA thread to start and
// end, to pass a __syncthreads() and to do a warp shuffle on the emulated device, and a
// grid-stride fill kernel against std::fill of the same floats, measured in the same run.
//   build/tools/bench_emulator [--reps N]     (BUSI_EMU_THREADS sets the host threads)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#ifdef BUSI_CUDA_EMULATED
#include <cuda_runtime.h>

namespace {

__global__ void empty_kernel(int, float* out) {
  if (threadIdx.x == 1u << 30) out[0] = 1.0f;  // never: only the thread's start and end
}
__global__ void barriers_kernel(int rounds, float* out) {
  float acc = 0.0f;
  for (int r = 0; r < rounds; ++r) {
    acc += 1.0f;
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = acc;
}
__global__ void shuffles_kernel(int rounds, float* out) {
  float v = static_cast<float>(threadIdx.x);
  for (int r = 0; r < rounds; ++r) v += __shfl_xor_sync(0xffffffffu, v, 1);
  if (threadIdx.x == 0) out[blockIdx.x] = v;
}
__global__ void fill_kernel(float* x, float value, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    x[i] = value;
}

template <class F>
double median_seconds(int reps, F run) {
  std::vector<double> times;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

void check(cudaError_t e) {
  if (e == cudaSuccess) return;
  std::fprintf(stderr, "bench_emulator: %s\n", cudaGetErrorString(e));
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 5;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--reps" && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: bench_emulator [--reps N]\n");
      return 2;
    }
  }
  const int64_t n = int64_t(1) << 22;  // 4 Mi floats
  float* x = nullptr;
  check(cudaMalloc(&x, n * sizeof(float)));
  auto launch = [&](const char* name, void (*kernel)(int, float*), int blocks, int rounds) {
    check(
        busi::emu::launch({name, __FILE__, __LINE__}, kernel, blocks, 256, 0, nullptr, rounds, x));
    check(cudaDeviceSynchronize());
  };
  std::printf("bench_emulator: %d host threads, median of %d runs\n\n", busi::emu::worker_threads(),
              reps);
  std::printf("| what | time | per CUDA thread and event |\n|---|---:|---:|\n");
  const double start_end = median_seconds(reps, [&] { launch("empty", empty_kernel, 1024, 0); });
  std::printf("| 1,024 blocks x 256 threads start and end | %.1f ms | %.1f ns |\n", start_end * 1e3,
              start_end * 1e9 / (1024.0 * 256));
  const double barriers =
      median_seconds(reps, [&] { launch("barriers", barriers_kernel, 8, 500); });
  std::printf("| 8 blocks x 256 threads x 500 __syncthreads() | %.1f ms | %.1f ns |\n",
              barriers * 1e3, barriers * 1e9 / (8.0 * 256 * 500));
  const double shuffles =
      median_seconds(reps, [&] { launch("shuffles", shuffles_kernel, 8, 500); });
  std::printf("| 8 blocks x 256 threads x 500 __shfl_xor_sync | %.1f ms | %.1f ns |\n",
              shuffles * 1e3, shuffles * 1e9 / (8.0 * 256 * 500));
  const double fill = median_seconds(reps, [&] {
    check(busi::emu::launch({"fill_kernel", __FILE__, __LINE__}, fill_kernel, 1056, 256, 0, nullptr,
                            x, 1.0f, n));
    check(cudaDeviceSynchronize());
  });
  std::vector<float> host(n);
  const double host_fill =
      median_seconds(reps, [&] { std::fill(host.begin(), host.end(), 2.0f + host[n / 2]); });
  std::printf(
      "\nfill of %lld floats: emulated grid-stride kernel %.2f ms, std::fill %.2f ms: "
      "%.1fx\n",
      static_cast<long long>(n), fill * 1e3, host_fill * 1e3, fill / host_fill);
  cudaFree(x);
  return 0;
}

#else

int main() {
  std::printf(
      "bench_emulator: this build has no emulated CUDA device (configure with "
      "-DBUSI_CUDA=EMULATE)\n");
  return 0;
}

#endif
