// Launching on the emulated device (launch.h): the checks a real launch makes, and running a
// queued grid - its blocks spread over the worker threads (OpenMP), each block run to its end
// by that thread's BlockRunner, the first fault recorded for the device.
#include "kernels/cuda/emulator/launch.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <mutex>
#include <sstream>
#include <string>

#include "kernels/cuda/emulator/block_runner.h"
#include "kernels/cuda/emulator/device_state.h"

namespace busi::emu {

namespace {

std::string dims(dim3 d) {
  std::ostringstream os;
  os << "(" << d.x << "," << d.y << "," << d.z << ")";
  return os.str();
}

std::string short_path(const char* file) {
  for (const char* top : {"kernels/", "engine/", "tests/", "tools/"})
    if (const char* at = std::strstr(file, top)) return at;
  return file;
}

// The limits of a launch on compute capability 9.0, with the error each breach gives.
cudaError_t check_configuration(const LaunchRequest& r) {
  const dim3 b = r.block, g = r.grid;
  if (b.x == 0 || b.y == 0 || b.z == 0 || g.x == 0 || g.y == 0 || g.z == 0)
    return cudaErrorInvalidConfiguration;
  if (b.x > 1024 || b.y > 1024 || b.z > 64 || uint64_t(b.x) * b.y * b.z > 1024)
    return cudaErrorInvalidConfiguration;
  if (g.x > 2147483647u || g.y > 65535 || g.z > 65535) return cudaErrorInvalidConfiguration;
  if (r.dynamic_shared_bytes > size_t(detail::max_dynamic_shared_bytes(r.func)))
    return cudaErrorInvalidValue;
  return cudaSuccess;
}

void run_grid(const LaunchRequest& r, uint64_t launch_number) {
  const uint64_t blocks = uint64_t(r.grid.x) * r.grid.y * r.grid.z;
  const uint64_t seed = thread_order_seed() * 0x9E3779B97F4A7C15ull + launch_number;
  const int workers =
      r.serial_blocks ? 1 : static_cast<int>(std::min<uint64_t>(worker_threads(), blocks));
  std::atomic<uint64_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  uint64_t fault_block = std::numeric_limits<uint64_t>::max();
  std::string fault;
  auto work = [&] {
    BlockRunner& runner = this_thread_runner();
    while (!stop.load(std::memory_order_relaxed)) {
      const uint64_t b = next.fetch_add(1);
      if (b >= blocks) break;
      if (runner.run(r, seed, b)) continue;
      std::lock_guard<std::mutex> lock(mutex);
      if (b < fault_block) fault_block = b, fault = runner.fault();
      stop = true;
    }
  };
  if (workers <= 1) {
    work();
  } else {
#pragma omp parallel num_threads(workers)
    work();
  }
  if (fault.empty()) return;
  const dim3 g = r.grid;
  const dim3 block{static_cast<unsigned>(fault_block % g.x),
                   static_cast<unsigned>(fault_block / g.x % g.y),
                   static_cast<unsigned>(fault_block / (uint64_t(g.x) * g.y))};
  std::ostringstream os;
  os << "kernel " << r.site.name << " (launched at " << short_path(r.site.file) << ":"
     << r.site.line << ", grid " << dims(r.grid) << ", block " << dims(r.block) << "), block "
     << dims(block) << ": " << fault << " [thread-order seed " << thread_order_seed()
     << ": BUSI_EMU_SEED=" << thread_order_seed() << " replays it]";
  detail::record_fault(os.str());
}

}  // namespace

cudaError_t enqueue_launch(LaunchRequest request) {
  if (const cudaError_t e = detail::sticky_error()) return detail::set_error(e);
  if (const cudaError_t e = check_configuration(request)) return detail::set_error(e);
  if (!detail::valid_stream(request.stream))
    return detail::set_error(cudaErrorInvalidResourceHandle);
  static std::atomic<uint64_t> launches{0};
  const uint64_t number = launches.fetch_add(1);
  const cudaStream_t stream = request.stream;
  detail::enqueue(stream, [r = std::move(request), number] { run_grid(r, number); });
  return cudaSuccess;
}

}  // namespace busi::emu
