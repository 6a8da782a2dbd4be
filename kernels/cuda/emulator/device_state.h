// What the parts of the emulated device share (internal to kernels/cuda/emulator/): the error
// state, the work queue and the memory map.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "kernels/cuda/emulator/runtime_api.h"

namespace busi::emu::detail {

// ---- Errors (errors.cpp) ------------------------------------------------------------------------

// Records `error` as this host thread's last error (unless it is cudaSuccess) and returns it.
cudaError_t set_error(cudaError_t error);
// cudaErrorLaunchFailure once a kernel has faulted (until cudaDeviceReset), else cudaSuccess.
cudaError_t sticky_error();
void record_fault(const std::string& message);
void clear_fault();

// ---- The work queue (device_queue.cpp) ----------------------------------------------------------

bool valid_stream(cudaStream_t stream);
// Queues `work` behind everything queued so far (on any stream: one order for the device is a
// legal schedule of CUDA's stream semantics, and a reproducible one).
void enqueue(cudaStream_t stream, std::function<void()> work);
// Runs the queued work, in order; after a kernel fault the rest is dropped, as a GPU would.
void run_pending();
void drop_pending();

// ---- Memory (device_memory.cpp) -----------------------------------------------------------------

// True when [p, p + bytes) lies inside one device allocation.
bool device_range(const void* p, size_t bytes);
// True when [p, p + bytes) lies inside one pinned host allocation (cudaMallocHost).
bool pinned_range(const void* p, size_t bytes);
void free_all_memory();

// ---- Properties (device_properties.cpp) ---------------------------------------------------------

size_t memory_capacity();
int max_dynamic_shared_bytes(const void* func);
void reset_function_attributes();

}  // namespace busi::emu::detail
