// Timing for the CPU benchmarks (cpu_timing.h).
#include "tools/bench/cpu_timing.h"

#include <time.h>

#include <algorithm>
#include <chrono>

#include "engine/random.h"

namespace busi::tools {

double now_seconds(BenchClock clock) {
  if (clock == BenchClock::process_cpu) {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median_seconds(const std::function<void()>& fn, int64_t runs, int64_t warmup,
                      BenchClock clock) {
  for (int64_t i = 0; i < warmup; ++i) fn();
  std::vector<double> times;
  for (int64_t i = 0; i < runs; ++i) {
    const double start = now_seconds(clock);
    fn();
    times.push_back(now_seconds(clock) - start);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

std::vector<float> random_floats(size_t n, uint64_t seed) {
  Generator gen(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(gen.uniform(-1.0, 1.0));
  return v;
}

}  // namespace busi::tools
