// The emulated device's work queue: kernels, device-to-device copies, memsets, host functions and
// event records are queued in issue order and run when the host waits (a stream or device
// synchronisation, a copy to host memory, cudaFree, an event wait). Until then their results are
// not there, as on a GPU, so host code that reads a result before waiting for it sees stale data
// here too. Streams and events are small host objects.
#include <chrono>
#include <deque>
#include <mutex>
#include <set>
#include <utility>

#include "kernels/cuda/emulator/device_state.h"
#include "kernels/cuda/emulator/runtime_api.h"

struct CUstream_st {
  unsigned int flags;
};
struct CUevent_st {
  bool recorded = false;  // cudaEventRecord called
  bool reached = false;   // ... and the queue has run up to it
  std::chrono::steady_clock::time_point when;
};

namespace busi::emu::detail {

namespace {

struct Work {
  cudaStream_t stream;
  std::function<void()> run;
};

struct Queue {
  std::mutex mutex;          // guards work, streams, events
  std::recursive_mutex run;  // one host thread runs the queue at a time
  std::deque<Work> work;
  std::set<cudaStream_t> streams;
  std::set<cudaEvent_t> events;
};

Queue& queue() {
  static Queue* q = new Queue;  // never destroyed (see errors.cpp)
  return *q;
}

}  // namespace

bool valid_stream(cudaStream_t stream) {
  if (!stream) return true;
  Queue& q = queue();
  std::lock_guard<std::mutex> lock(q.mutex);
  return q.streams.count(stream) != 0;
}

void enqueue(cudaStream_t stream, std::function<void()> work) {
  Queue& q = queue();
  std::lock_guard<std::mutex> lock(q.mutex);
  q.work.push_back(Work{stream, std::move(work)});
}

void run_pending() {
  Queue& q = queue();
  std::lock_guard<std::recursive_mutex> running(q.run);
  for (;;) {
    Work next;
    {
      std::lock_guard<std::mutex> lock(q.mutex);
      if (q.work.empty()) return;
      next = std::move(q.work.front());
      q.work.pop_front();
    }
    if (sticky_error() == cudaSuccess) next.run();
  }
}

void drop_pending() {
  Queue& q = queue();
  std::lock_guard<std::recursive_mutex> running(q.run);
  std::lock_guard<std::mutex> lock(q.mutex);
  q.work.clear();
}

}  // namespace busi::emu::detail

using namespace busi::emu::detail;

// ---- Streams ------------------------------------------------------------------------------------

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags) {
  if (!stream || (flags & ~cudaStreamNonBlocking)) return set_error(cudaErrorInvalidValue);
  if (const cudaError_t e = sticky_error()) return set_error(e);
  *stream = new CUstream_st{flags};
  std::lock_guard<std::mutex> lock(queue().mutex);
  queue().streams.insert(*stream);
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  return cudaStreamCreateWithFlags(stream, cudaStreamDefault);
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (!stream || !valid_stream(stream)) return set_error(cudaErrorInvalidResourceHandle);
  run_pending();  // its queued work still runs, as CUDA promises
  std::lock_guard<std::mutex> lock(queue().mutex);
  queue().streams.erase(stream);
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (!valid_stream(stream)) return set_error(cudaErrorInvalidResourceHandle);
  run_pending();
  return set_error(sticky_error());
}

cudaError_t cudaStreamQuery(cudaStream_t stream) {
  if (!valid_stream(stream)) return set_error(cudaErrorInvalidResourceHandle);
  if (const cudaError_t e = sticky_error()) return set_error(e);
  Queue& q = queue();
  std::lock_guard<std::mutex> lock(q.mutex);
  for (const Work& w : q.work)
    if (w.stream == stream || !stream) return cudaErrorNotReady;  // not recorded as an error
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() {
  run_pending();
  return set_error(sticky_error());
}

cudaError_t cudaLaunchHostFunc(cudaStream_t stream, cudaHostFn_t fn, void* user_data) {
  if (!fn) return set_error(cudaErrorInvalidValue);
  if (!valid_stream(stream)) return set_error(cudaErrorInvalidResourceHandle);
  if (const cudaError_t e = sticky_error()) return set_error(e);
  enqueue(stream, [fn, user_data] { fn(user_data); });
  return cudaSuccess;
}

// ---- Events -------------------------------------------------------------------------------------

namespace {
bool valid_event(cudaEvent_t event) {
  std::lock_guard<std::mutex> lock(queue().mutex);
  return event && queue().events.count(event) != 0;
}
}  // namespace

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  if (!event) return set_error(cudaErrorInvalidValue);
  *event = new CUevent_st;
  std::lock_guard<std::mutex> lock(queue().mutex);
  queue().events.insert(*event);
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags) {
  if (flags & ~(cudaEventDefault | cudaEventDisableTiming)) return set_error(cudaErrorInvalidValue);
  return cudaEventCreate(event);  // timing is always available here
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  if (!valid_event(event)) return set_error(cudaErrorInvalidResourceHandle);
  run_pending();  // a queued record must not write to a deleted event
  std::lock_guard<std::mutex> lock(queue().mutex);
  queue().events.erase(event);
  delete event;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (!valid_event(event)) return set_error(cudaErrorInvalidResourceHandle);
  if (!valid_stream(stream)) return set_error(cudaErrorInvalidResourceHandle);
  if (const cudaError_t e = sticky_error()) return set_error(e);
  event->recorded = true;
  event->reached = false;
  enqueue(stream, [event] {
    event->reached = true;
    event->when = std::chrono::steady_clock::now();
  });
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (!valid_event(event)) return set_error(cudaErrorInvalidResourceHandle);
  run_pending();
  return set_error(sticky_error());
}

cudaError_t cudaEventQuery(cudaEvent_t event) {
  if (!valid_event(event)) return set_error(cudaErrorInvalidResourceHandle);
  if (const cudaError_t e = sticky_error()) return set_error(e);
  // A GPU runs queued work by itself; here it runs when the host waits, so an event not yet
  // reached is "not ready" (not an error: cudaEventQuery does not record it as the last error).
  return !event->recorded || event->reached ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!ms) return set_error(cudaErrorInvalidValue);
  if (!valid_event(start) || !valid_event(end)) return set_error(cudaErrorInvalidResourceHandle);
  if (!start->recorded || !end->recorded) return set_error(cudaErrorInvalidResourceHandle);
  if (!start->reached || !end->reached) return set_error(cudaErrorNotReady);
  *ms = std::chrono::duration<float, std::milli>(end->when - start->when).count();
  return cudaSuccess;
}
