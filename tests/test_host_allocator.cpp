// The caching host allocator: blocks come back from the cache by bin, aligned, within the limit,
// and tensors reuse them after the first step.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>

#include "engine/tensor.h"
#include "kernels/common/allocator_bins.h"
#include "kernels/cpu/host_allocator.h"

using namespace busi;

TEST_CASE("allocator bins: 512-byte steps to 1 MiB, then eight sizes per power of two") {
  CHECK(allocator_bin_size(0) == 512);
  CHECK(allocator_bin_size(1) == 512);
  CHECK(allocator_bin_size(513) == 1024);
  CHECK(allocator_bin_size(size_t(1) << 20) == size_t(1) << 20);
  // 1 MiB + 1 byte: the next eighth of 1 MiB.
  CHECK(allocator_bin_size((size_t(1) << 20) + 1) == (size_t(1) << 20) + (size_t(1) << 17));
  for (size_t bytes : {size_t(3) << 20, size_t(5'000'001), size_t(123'456'789)}) {
    CAPTURE(bytes);
    const size_t bin = allocator_bin_size(bytes);
    CHECK(bin >= bytes);
    CHECK(bin - bytes <= bytes / 8);  // at most 12.5 % wasted
  }
}

TEST_CASE("host allocator: a freed block serves the next request of its bin, aligned") {
  cpu::host_empty_cache();
  void* a = cpu::host_malloc(10'000);
  CHECK(reinterpret_cast<uintptr_t>(a) % cpu::kHostAlignment == 0);
  std::memset(a, 1, 10'000);  // all of it is usable
  cpu::host_free(a, 10'000);
  const cpu::HostAllocatorStats before = cpu::host_allocator_stats();
  CHECK(before.cached_bytes >= allocator_bin_size(10'000));
  void* b = cpu::host_malloc(9'800);  // the same bin (10,240 bytes)
  const cpu::HostAllocatorStats after = cpu::host_allocator_stats();
  CHECK(b == a);
  CHECK(after.cache_hits == before.cache_hits + 1);
  CHECK(after.system_allocs == before.system_allocs);
  void* c = cpu::host_malloc(20'000);  // another bin: a new block
  CHECK(c != a);
  CHECK(cpu::host_allocator_stats().system_allocs == after.system_allocs + 1);
  cpu::host_free(b, 9'800);
  cpu::host_free(c, 20'000);
  cpu::host_free(nullptr, 5);  // ignored
  cpu::host_empty_cache();
  CHECK(cpu::host_allocator_stats().cached_bytes == 0);
}

TEST_CASE("host allocator: the cache never holds more than its limit") {
  cpu::host_empty_cache();
  cpu::set_host_cache_limit(size_t(3) << 20);
  void* blocks[4];
  for (void*& p : blocks) p = cpu::host_malloc(size_t(1) << 20);
  for (void* p : blocks) cpu::host_free(p, size_t(1) << 20);
  CHECK(cpu::host_allocator_stats().cached_bytes == size_t(3) << 20);  // the 4th went back
  cpu::set_host_cache_limit(size_t(2) << 30);
  cpu::host_empty_cache();
}

TEST_CASE("host allocator: a second step of the same tensors maps no new memory") {
  cpu::host_empty_cache();
  auto step = [] {
    Tensor x = Tensor::zeros({32, 64, 48, 48});  // 18 MiB, as a SimpleCNN activation
    Tensor y = Tensor::zeros({32, 128, 24, 24});
    return x.numel() + y.numel();
  };
  step();
  const cpu::HostAllocatorStats first = cpu::host_allocator_stats();
  step();
  const cpu::HostAllocatorStats second = cpu::host_allocator_stats();
  CHECK(second.system_allocs == first.system_allocs);
  CHECK(second.cache_hits >= first.cache_hits + 2);
  CHECK(second.allocated_bytes == first.allocated_bytes);  // everything given back
}

TEST_CASE("host allocator: an impossible request is an error, not a crash") {
  CHECK_THROWS_WITH_AS(cpu::host_malloc(size_t(1) << 62), doctest::Contains("out of host memory"),
                       Error);
}
