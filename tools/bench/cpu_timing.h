// Timing for the CPU benchmarks (bench_cpu, bench_conv_layers): the median of timed calls after
// untimed warm-up ones, by the wall clock or the process's CPU clock, and random inputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace busi::tools {

// wall: what a user waits; process_cpu: the CPU seconds of all the process's threads, steadier
// on a machine shared with other work (with OMP_WAIT_POLICY=passive, so waiting threads do not
// spin), though not the speed a user sees.
enum class BenchClock { wall, process_cpu };

double now_seconds(BenchClock clock);

// Median seconds of `runs` timed calls of `fn`, after `warmup` untimed ones (the first call pays
// for page faults, OpenMP thread start-up and cold caches).
double median_seconds(const std::function<void()>& fn, int64_t runs, int64_t warmup,
                      BenchClock clock = BenchClock::wall);

// n values uniform in [-1, 1), the same for the same seed (busi::Generator).
std::vector<float> random_floats(size_t n, uint64_t seed);

}  // namespace busi::tools
