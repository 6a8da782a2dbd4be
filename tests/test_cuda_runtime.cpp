// The CUDA runtime layer: the caching allocator (reuse without cudaMalloc, statistics,
// empty_cache, the out-of-memory message), host/device copies and fill, the switches, and the
// start-up description line. The device chooser, which runs everywhere, is in test_device.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/ops.h"
#include "kernels/common/error.h"
#include "engine/tensor.h"
#include "tests/cuda_parity.h"
#ifdef BUSI_WITH_CUDA
#include "kernels/cuda/runtime/api.h"
#include "kernels/cuda/runtime/controls.h"
#endif
#ifdef BUSI_CUDA_EMULATED
#include "kernels/cuda/runtime/launch.h"
#endif
#if defined(BUSI_CUDA_EMULATED) && defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

using namespace busi;

#ifdef BUSI_WITH_CUDA

namespace {

// The caching allocator for the scope of a test of the cache itself, also when the run asked for
// exact allocations (tools/bench/compute_sanitizer.sh's memcheck sets BUSI_CUDA_ALLOC=exact).
class CachingMode {
 public:
  CachingMode() : exact_(cuda::exact_allocation()) { cuda::set_exact_allocation(false); }
  ~CachingMode() { cuda::set_exact_allocation(exact_); }
  CachingMode(const CachingMode&) = delete;
  CachingMode& operator=(const CachingMode&) = delete;

 private:
  bool exact_;
};

}  // namespace

TEST_CASE("cuda allocator: a freed block is reused without cudaMalloc") {
  BUSI_REQUIRE_GPU();
  CachingMode caching;
  void* first = cuda::device_malloc(1000);
  const cuda::AllocatorStats after_first = cuda::allocator_stats();
  cuda::device_free(first);
  const cuda::AllocatorStats after_free = cuda::allocator_stats();
  // 1000 bytes are served from the 1024-byte bin; the freed block waits in the cache.
  CHECK(after_free.allocated_bytes == after_first.allocated_bytes - 1024);
  CHECK(after_free.cached_bytes >= 1024);
  void* second = cuda::device_malloc(1000);
  const cuda::AllocatorStats after_second = cuda::allocator_stats();
  CHECK(after_second.num_cuda_mallocs == after_first.num_cuda_mallocs);
  CHECK(after_second.num_cache_hits == after_free.num_cache_hits + 1);
  CHECK(second == first);  // the only 1024-byte block in the cache
  cuda::device_free(second);

  // Tensors: a loop creating and dropping same-sized tensors mallocs only on its first pass.
  int64_t mallocs_after_first_pass = 0;
  for (int pass = 0; pass < 5; ++pass) {
    {
      Tensor a = Tensor::zeros({64, 1000}, Device::cuda());
      Tensor b = Tensor::ones({3, 7}, Device::cuda());
      CHECK(b.to_vector() == std::vector<float>(21, 1.0f));
    }
    if (pass == 0) mallocs_after_first_pass = cuda::allocator_stats().num_cuda_mallocs;
  }
  CHECK(cuda::allocator_stats().num_cuda_mallocs == mallocs_after_first_pass);
}

#if defined(BUSI_CUDA_EMULATED) && defined(__SANITIZE_ADDRESS__)
TEST_CASE(
    "cuda allocator under AddressSanitizer: a block's slack and cached blocks are off limits") {
  BUSI_REQUIRE_GPU();
  CachingMode caching;
  // 1000 bytes come from a 1024-byte block: a kernel reading byte 1000 must be reported, and so
  // must one reading a block after it went back to the cache. The marks are queued on the
  // stream, so they hold once the stream has reached them.
  char* p = static_cast<char*>(cuda::device_malloc(1000));
  cuda::synchronize();
  CHECK(!__asan_address_is_poisoned(p + 999));
  CHECK(__asan_address_is_poisoned(p + 1000));
  CHECK(__asan_address_is_poisoned(p + 1023));
  cuda::device_free(p);
  CHECK(!__asan_address_is_poisoned(p));  // kernels queued before the free may still use it
  cuda::synchronize();
  CHECK(__asan_address_is_poisoned(p));
  char* q = static_cast<char*>(cuda::device_malloc(1000));  // the same block, handed out again
  cuda::synchronize();
  CHECK(q == p);
  CHECK(!__asan_address_is_poisoned(q));
  cuda::device_free(q);
}
#endif

TEST_CASE("cuda allocator: exact mode mallocs the very size and frees at once, for memcheck") {
  BUSI_REQUIRE_GPU();
  CachingMode restores_the_mode_afterwards;
  cuda::set_exact_allocation(true);
  const cuda::AllocatorStats before = cuda::allocator_stats();
  void* a = cuda::device_malloc(1000);
  const cuda::AllocatorStats after_malloc = cuda::allocator_stats();
  CHECK(after_malloc.allocated_bytes == before.allocated_bytes + 1000);  // no 1024-byte bin
  CHECK(after_malloc.num_cuda_mallocs == before.num_cuda_mallocs + 1);
  CHECK(cuda::runtime_description().find("allocation exact") != std::string::npos);
  cuda::device_free(a);
  const cuda::AllocatorStats after_free = cuda::allocator_stats();
  CHECK(after_free.num_cuda_frees == before.num_cuda_frees + 1);
  CHECK(after_free.cached_bytes == before.cached_bytes);  // nothing kept
  void* b = cuda::device_malloc(1000);
  CHECK(cuda::allocator_stats().num_cache_hits == before.num_cache_hits);
  cuda::set_exact_allocation(false);
  cuda::device_free(b);  // a block from exact mode is still freed exactly after switching back
  CHECK(cuda::allocator_stats().num_cuda_frees == before.num_cuda_frees + 2);
  // Tensors work as usual in this mode.
  cuda::set_exact_allocation(true);
  {
    const Tensor t = Tensor::from_vector({1, 2, 3}, {3}, Device::cuda());
    CHECK(add(t, t).to_vector() == std::vector<float>{2, 4, 6});
  }
  cuda::set_exact_allocation(false);
}

TEST_CASE("cuda allocator: statistics, peak and empty_cache") {
  BUSI_REQUIRE_GPU();
  CachingMode caching;
  cuda::empty_cache();
  cuda::reset_peak_bytes();
  const cuda::AllocatorStats start = cuda::allocator_stats();
  CHECK(start.cached_bytes == 0);
  CHECK(start.peak_bytes == start.allocated_bytes);
  const size_t big = size_t(3) << 20;  // 3 MiB: exactly a bin (eight steps per power of two)
  void* p = cuda::device_malloc(big);
  void* q = cuda::device_malloc(100);  // rounded to 512 bytes
  const cuda::AllocatorStats during = cuda::allocator_stats();
  CHECK(during.allocated_bytes == start.allocated_bytes + big + 512);
  CHECK(during.peak_bytes == during.allocated_bytes);
  CHECK(during.num_cuda_mallocs == start.num_cuda_mallocs + 2);
  cuda::device_free(p);
  cuda::device_free(q);
  const cuda::AllocatorStats freed = cuda::allocator_stats();
  CHECK(freed.allocated_bytes == start.allocated_bytes);
  CHECK(freed.peak_bytes == during.peak_bytes);  // the peak is remembered
  CHECK(freed.cached_bytes == big + 512);
  cuda::empty_cache();
  const cuda::AllocatorStats emptied = cuda::allocator_stats();
  CHECK(emptied.cached_bytes == 0);
  CHECK(emptied.num_cuda_frees == freed.num_cuda_frees + 2);
  cuda::reset_peak_bytes();
  CHECK(cuda::allocator_stats().peak_bytes == emptied.allocated_bytes);
  // Bins: 5,000,000 bytes is between 2^22 and 2^23, whose steps are 2^19 = 524,288 bytes: it is
  // served from the 5,242,880-byte bin.
  void* r = cuda::device_malloc(5000000);
  CHECK(cuda::allocator_stats().allocated_bytes == emptied.allocated_bytes + 5242880);
  cuda::device_free(r);
  cuda::device_free(nullptr);  // a no-op, like free(nullptr)
}

TEST_CASE("cuda allocator: empty_cache keeps live blocks; bins either side of 1 MiB") {
  BUSI_REQUIRE_GPU();
  CachingMode caching;
  // Only free blocks go back to the driver: a live tensor keeps its memory and its contents.
  const Tensor live = Tensor::full({1000}, 1.5f, Device::cuda());
  cuda::device_free(cuda::device_malloc(4096));
  const cuda::AllocatorStats before = cuda::allocator_stats();
  CHECK(before.cached_bytes >= 4096);
  cuda::empty_cache();
  const cuda::AllocatorStats after = cuda::allocator_stats();
  CHECK(after.cached_bytes == 0);
  CHECK(after.allocated_bytes == before.allocated_bytes);
  CHECK(after.num_cuda_frees > before.num_cuda_frees);
  CHECK(live.to_vector() == std::vector<float>(1000, 1.5f));
  // Up to 1 MiB, multiples of 512 bytes; just above it, steps of 2^17 (eight per power of two).
  const size_t base = cuda::allocator_stats().allocated_bytes, mib = size_t(1) << 20;
  void* at_limit = cuda::device_malloc(mib);
  CHECK(cuda::allocator_stats().allocated_bytes == base + mib);
  void* above = cuda::device_malloc(mib + 1);
  CHECK(cuda::allocator_stats().allocated_bytes == base + mib + 9 * (size_t(1) << 17));
  void* tiny = cuda::device_malloc(1);
  CHECK(cuda::allocator_stats().allocated_bytes == base + mib + 9 * (size_t(1) << 17) + 512);
  cuda::device_free(at_limit);
  cuda::device_free(above);
  cuda::device_free(tiny);
  CHECK(cuda::allocator_stats().allocated_bytes == base);
}

TEST_CASE("cuda allocator: out of memory names the size asked for and what is in use") {
  BUSI_REQUIRE_GPU();
  const size_t one_tib = size_t(1) << 40;
  CHECK_THROWS_WITH_AS(cuda::device_malloc(one_tib),
                       doctest::Contains("CUDA out of memory: asked for 1048576.0 MiB; in use"),
                       Error);
  try {
    cuda::device_malloc(one_tib);
  } catch (const Error& e) {
    const std::string what = e.what();
    CHECK(what.find("cached") != std::string::npos);
    CHECK(what.find("device total") != std::string::npos);
  }
  // Through a tensor, and the allocator still works afterwards.
  CHECK_THROWS_WITH_AS(Tensor::empty({int64_t(1) << 38}, Device::cuda()),
                       doctest::Contains("CUDA out of memory"), Error);
  Tensor t = Tensor::full({10}, 2.0f, Device::cuda());
  CHECK(t.to_vector() == std::vector<float>(10, 2.0f));
}

TEST_CASE("cuda memory: copies between devices, fill and views") {
  BUSI_REQUIRE_GPU();
  std::vector<float> values(1003);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.5f - 7.0f;
  const Tensor host = Tensor::from_vector(values, {1003});
  const Tensor device = host.to(Device::cuda());
  CHECK(device.is_cuda());
  CHECK(device.to_vector() == values);
  const Tensor copy = device.clone();  // device to device
  CHECK(copy.to(Device::cpu()).to_vector() == values);
  Tensor filled = Tensor::empty({1001}, Device::cuda());
  filled.fill_(-0.0f);  // not all-zero bytes: the fill kernel, not memset
  for (float v : filled.to_vector()) CHECK((v == 0.0f && std::signbit(v)));
  filled.fill_(3.25f);
  CHECK(filled.to_vector() == std::vector<float>(1001, 3.25f));
  filled.zero_();
  CHECK(filled.to_vector() == std::vector<float>(1001, 0.0f));
  // A view starting inside the storage copies from the right place.
  Tensor rows = Tensor::from_vector(values, {17, 59}).to(Device::cuda());
  const std::vector<float> row3 = rows.narrow0(3, 1).to_vector();
  CHECK(row3 == std::vector<float>(values.begin() + 3 * 59, values.begin() + 4 * 59));
  Tensor target = Tensor::zeros({59}, Device::cuda());
  target.copy_(rows.narrow0(3, 1));
  CHECK(target.to_vector() == row3);
  cuda::synchronize();
}

TEST_CASE("cuda memory: host-to-device copies never wait, and the source may change at once") {
  BUSI_REQUIRE_GPU();
  cuda::synchronize();
  const int64_t waits_before = cuda::host_waits();
  // More copies than the staging ring has slots, each source overwritten right after its copy:
  // every device tensor must still hold what its source held when the copy was called.
  std::vector<float> source(300);
  std::vector<Tensor> copies;
  for (int i = 0; i < 20; ++i) {
    for (size_t k = 0; k < source.size(); ++k) source[k] = static_cast<float>(i * 1000 + k);
    copies.push_back(Tensor::from_vector(source, {300}, Device::cuda()));
    source.assign(source.size(), -1.0f);
  }
  // On a GPU a slot may still be in flight when the ring comes round (then one counted wait); on
  // the emulated device nothing has run yet, so the 9th copy waits for the 1st.
  const int64_t waits_while_copying = cuda::host_waits() - waits_before;
  CHECK(waits_while_copying <= 20 - 8);
  for (int i = 0; i < 20; ++i) {
    const std::vector<float> got = copies[i].to_vector();
    CHECK(got.front() == static_cast<float>(i * 1000));
    CHECK(got.back() == static_cast<float>(i * 1000 + 299));
  }
  // Few copies in a row (a training step's): no wait at all.
  cuda::synchronize();
  const int64_t before_step = cuda::host_waits();
  const Tensor images =
      Tensor::from_vector(std::vector<float>(4 * 64, 0.5f), {4, 64}, Device::cuda());
  const Tensor weights = Tensor::from_vector({0.6f, 1.2f, 2.0f}, {3}, Device::cuda());
  CHECK(cuda::host_waits() == before_step);
  CHECK(weights.to_vector() == std::vector<float>{0.6f, 1.2f, 2.0f});  // reading back waits
  CHECK(cuda::host_waits() == before_step + 1);
  CHECK(images.to_vector() == std::vector<float>(4 * 64, 0.5f));
}

TEST_CASE("cuda runtime: switches and the start-up line") {
  BUSI_REQUIRE_GPU();
  const bool tf32 = cuda::tf32_enabled();
  cuda::set_tf32(false);
  CHECK(!cuda::tf32_enabled());
  CHECK(cuda::runtime_description().find("TF32 off") != std::string::npos);
  cuda::set_tf32(true);
  CHECK(cuda::runtime_description().find("TF32 on") != std::string::npos);
  cuda::set_tf32(tf32);
  const cuda::GemmBackend gemm = cuda::gemm_backend();
  cuda::set_gemm_backend(cuda::GemmBackend::Handwritten);
  CHECK(cuda::runtime_description().find("GEMM handwritten") != std::string::npos);
  cuda::set_gemm_backend(gemm);
  if (cuda::emulated()) {
    // No cuBLAS or cuDNN on the emulated device: the hand-written kernels, and a clear refusal.
    CHECK(cuda::gemm_backend() == cuda::GemmBackend::Handwritten);
    CHECK(cuda::conv_backend() == cuda::ConvBackend::Handwritten);
    CHECK(!cuda::libraries_available());
    CHECK_THROWS_WITH_AS(cuda::set_gemm_backend(cuda::GemmBackend::Cublas),
                         doctest::Contains("cuBLAS cannot run on the emulated CUDA device"), Error);
    CHECK_THROWS_WITH_AS(cuda::set_conv_backend(cuda::ConvBackend::Cudnn),
                         doctest::Contains("cuDNN cannot run on the emulated CUDA device"), Error);
    CHECK(cuda::runtime_description().find("emulated") != std::string::npos);
    CHECK(Device::cuda().str() == "cuda:0 (emulated)");
  }
  const cuda::DeviceInfo info = cuda::device_info();
  CHECK(!info.name.empty());
  CHECK(info.sm_count > 0);
  CHECK(info.total_bytes > 0);
  MESSAGE("device: " << cuda::runtime_description());
}

#ifdef BUSI_CUDA_EMULATED
// On the emulated device a test can hold a kernel of its own (this file is plain C++ there).
namespace {
__global__ void add_one_kernel(float* x, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    x[i] += 1.0f;
}
}  // namespace

TEST_CASE("cuda launch: a bad launch is an error naming the kernel, file and line") {
  BUSI_REQUIRE_GPU();
  Tensor t = Tensor::zeros({100}, Device::cuda());
  // 2,048 threads a block is over the hardware's 1,024: refused as a GPU refuses it.
  CHECK_THROWS_WITH_AS(
      BUSI_LAUNCH(add_one_kernel, 1, 2048, 0, t.data(), int64_t(100)),
      doctest::Contains("CUDA error: invalid configuration argument "
                        "(cudaErrorInvalidConfiguration) launching kernel "
                        "add_one_kernel in <<<...>>> at tests/test_cuda_runtime.cpp"),
      Error);
  // More dynamic shared memory than a block may have without opting in.
  CHECK_THROWS_WITH_AS(BUSI_LAUNCH(add_one_kernel, 1, 32, 64 << 10, t.data(), int64_t(100)),
                       doctest::Contains("invalid argument (cudaErrorInvalidValue)"), Error);
  // Not sticky: the same kernel launched right works, and nothing ran twice.
  BUSI_LAUNCH(add_one_kernel, 2, 64, 0, t.data(), int64_t(100));
  CHECK(t.to_vector() == std::vector<float>(100, 1.0f));
}
#endif  // BUSI_CUDA_EMULATED

#else  // no CUDA backend in this build

TEST_CASE("cuda allocator, copies and switches") { BUSI_REQUIRE_GPU(); }

#endif  // BUSI_WITH_CUDA
