// The device side of CUDA C++ on the emulated device: the qualifiers (__global__, __device__,
// __shared__ ...), the built-in variables (threadIdx, blockIdx, blockDim, gridDim), __syncthreads,
// the warp functions, float4 and the device math the kernels use. Every CUDA thread runs as a
// fiber on a host thread (block_runner.cpp); __syncthreads and the warp functions are the points
// where it hands over to the block's other threads, in an order drawn from the seed.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/cuda/emulator/runtime_api.h"

// ---- Qualifiers ---------------------------------------------------------------------------------

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))

// __shared__ memory is per block. A host thread runs one block at a time, so a thread_local
// static is one block's shared memory. AddressSanitizer does not guard thread_local variables,
// so in an ASan build shared variables are plain statics (which it does guard) and every launch
// from such a file runs its blocks one at a time (BUSI_EMU_SHARED_IS_STATIC tells the launcher).
#if defined(__SANITIZE_ADDRESS__)
#define BUSI_EMU_SHARED_IS_STATIC 1
#define __shared__ static
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BUSI_EMU_SHARED_IS_STATIC 1
#define __shared__ static
#endif
#endif
#ifndef BUSI_EMU_SHARED_IS_STATIC
#define BUSI_EMU_SHARED_IS_STATIC 0
#define __shared__ static thread_local
#endif

// ---- Built-in variables -------------------------------------------------------------------------
// Real variables (not macros), so a debugger prints them: `print threadIdx` in gdb. They belong
// to the host thread and are switched with the fiber (block_runner.cpp).

extern thread_local constinit uint3 threadIdx;
extern thread_local constinit uint3 blockIdx;
extern thread_local constinit dim3 blockDim;
extern thread_local constinit dim3 gridDim;
constexpr int warpSize = 32;

// ---- Synchronisation and warp functions ---------------------------------------------------------

namespace busi::emu {

struct Site {  // where in the kernel source a thread waits
  const char* file;
  int line;
};

enum class WarpOp { Sync, Ballot, ShuffleIndex, ShuffleUp, ShuffleDown, ShuffleXor };

void syncthreads(Site site);
// One warp-wide exchange: every lane named in `mask` must call it from the same place. `arg` is
// the source lane, the delta or the lane mask of a shuffle (or the predicate of a ballot).
uint64_t warp_collective(Site site, WarpOp op, unsigned mask, uint64_t bits, int arg, int width);
// The block's dynamic shared memory (the launch's third <<< >>> argument), fresh for each block.
void* dynamic_shared_memory();

template <class T>
T shuffle(Site site, WarpOp op, unsigned mask, T value, int arg, int width) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "shuffle of a large type");
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  bits = warp_collective(site, op, mask, bits, arg, width);
  std::memcpy(&value, &bits, sizeof(T));
  return value;
}

}  // namespace busi::emu

#define BUSI_EMU_SITE (::busi::emu::Site{__FILE__, __LINE__})
#define __syncthreads() ::busi::emu::syncthreads(BUSI_EMU_SITE)
#define __syncwarp(...) ::busi::emu::syncwarp(BUSI_EMU_SITE __VA_OPT__(, ) __VA_ARGS__)
#define __shfl_sync(mask, v, lane, ...)                                                 \
  ::busi::emu::shuffle(BUSI_EMU_SITE, ::busi::emu::WarpOp::ShuffleIndex, mask, v, lane, \
                       ::busi::emu::width_or_32(__VA_ARGS__))
#define __shfl_up_sync(mask, v, delta, ...)                                           \
  ::busi::emu::shuffle(BUSI_EMU_SITE, ::busi::emu::WarpOp::ShuffleUp, mask, v, delta, \
                       ::busi::emu::width_or_32(__VA_ARGS__))
#define __shfl_down_sync(mask, v, delta, ...)                                           \
  ::busi::emu::shuffle(BUSI_EMU_SITE, ::busi::emu::WarpOp::ShuffleDown, mask, v, delta, \
                       ::busi::emu::width_or_32(__VA_ARGS__))
#define __shfl_xor_sync(mask, v, lane_mask, ...)                                           \
  ::busi::emu::shuffle(BUSI_EMU_SITE, ::busi::emu::WarpOp::ShuffleXor, mask, v, lane_mask, \
                       ::busi::emu::width_or_32(__VA_ARGS__))
#define __ballot_sync(mask, predicate)                                                           \
  static_cast<unsigned>(::busi::emu::warp_collective(BUSI_EMU_SITE, ::busi::emu::WarpOp::Ballot, \
                                                     mask, 0, (predicate) ? 1 : 0, 32))
#define __any_sync(mask, predicate) (__ballot_sync(mask, predicate) != 0u)
#define __all_sync(mask, predicate) (__ballot_sync(mask, predicate) == (mask))

namespace busi::emu {
inline int width_or_32() { return 32; }
inline int width_or_32(int width) { return width; }
inline void syncwarp(Site site, unsigned mask = 0xffffffffu) {
  warp_collective(site, WarpOp::Sync, mask, 0, 0, 32);
}
}  // namespace busi::emu

// ---- Vector types -------------------------------------------------------------------------------

struct __attribute__((aligned(16))) float4 {
  float x, y, z, w;
};
struct __attribute__((aligned(8))) float2 {
  float x, y;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline float2 make_float2(float x, float y) { return {x, y}; }

// ---- Device math (the CUDA names the host library lacks) ----------------------------------------

inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
