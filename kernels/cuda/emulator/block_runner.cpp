// The block runner (block_runner.h): the scheduler of a block's fibers, __syncthreads and the
// faults misusing it raises. The warp functions are in block_runner_warps.cpp.
#include "kernels/cuda/emulator/block_runner.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <sstream>

#include "kernels/cuda/emulator/site_text.h"

// The built-in variables of device_code.h, switched with each fiber.
thread_local constinit uint3 threadIdx{0, 0, 0};
thread_local constinit uint3 blockIdx{0, 0, 0};
thread_local constinit dim3 blockDim{1, 1, 1};
thread_local constinit dim3 gridDim{1, 1, 1};

namespace busi::emu {

namespace {

thread_local BlockRunner* active_runner = nullptr;  // the runner whose block this thread runs

BlockRunner& active() {
  if (!active_runner) {
    std::fprintf(stderr,
                 "busi: emulated CUDA device: __syncthreads or a warp function was called "
                 "outside a kernel\n");
    std::abort();
  }
  return *active_runner;
}

// A fiber stack big enough for the kernels' frames; AddressSanitizer's frames are larger.
size_t stack_bytes() {
  if (const char* kib = std::getenv("BUSI_EMU_STACK_KIB"))
    return std::strtoull(kib, nullptr, 10) << 10;
#if defined(__SANITIZE_ADDRESS__)
  return size_t(512) << 10;
#else
  return size_t(128) << 10;
#endif
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

// ---- Entry points from device code --------------------------------------------------------------

void syncthreads(Site site) { active().barrier(site); }
uint64_t warp_collective(Site site, WarpOp op, unsigned mask, uint64_t bits, int arg, int width) {
  return active().warp_collective(site, op, mask, bits, arg, width);
}
void* dynamic_shared_memory() { return active().dynamic_shared(); }

BlockRunner& this_thread_runner() {
  thread_local BlockRunner runner;
  return runner;
}

// ---- Running a block ----------------------------------------------------------------------------

BlockRunner::BlockRunner() = default;
BlockRunner::~BlockRunner() = default;

bool BlockRunner::run(const LaunchRequest& launch, uint64_t order_seed, uint64_t block) {
  launch_ = &launch;
  block_dim_ = launch.block;
  count_ = static_cast<int>(launch.block.x * launch.block.y * launch.block.z);
  const dim3 g = launch.grid;
  blockIdx = uint3{static_cast<unsigned>(block % g.x), static_cast<unsigned>(block / g.x % g.y),
                   static_cast<unsigned>(block / (uint64_t(g.x) * g.y))};
  blockDim = launch.block;
  gridDim = launch.grid;
  threads_.assign(count_, Thread{});
  runnable_.clear();
  for (int t = 0; t < count_; ++t) {
    const unsigned bx = block_dim_.x, by = block_dim_.y;
    threads_[t].index = uint3{t % bx, t / bx % by, t / (bx * by)};
    runnable_.push_back(t);
  }
  warps_.assign((count_ + 31) / 32, Warp{});
  at_barrier_ = done_ = 0;
  unwinding_ = false;
  fault_.clear();
  rng_ = splitmix64(order_seed ^ splitmix64(block));
  // Fresh shared memory holds garbage on a GPU: all-ones bytes (a NaN in every float) here.
  dynamic_shared_.assign(launch.dynamic_shared_bytes, 0xFF);

  BlockRunner* previous = active_runner;
  active_runner = this;
  while (!runnable_.empty() && fault_.empty()) {
    const size_t pick = next_random() % runnable_.size();
    const int t = runnable_[pick];
    runnable_[pick] = runnable_.back();
    runnable_.pop_back();
    start_or_resume(t);
  }
  if (fault_.empty() && done_ != count_) diagnose_deadlock();
  if (!fault_.empty()) {
    // The block is abandoned, as a GPU abandons a faulted kernel: each thread still waiting is
    // woken once more to unwind its frames (yield_to_scheduler throws AbandonBlock).
    unwinding_ = true;
    for (int t = 0; t < count_; ++t)
      if (threads_[t].stack >= 0) start_or_resume(t);
    unwinding_ = false;
  }
  active_runner = previous;
  return fault_.empty();
}

void BlockRunner::start_or_resume(int t) {
  Thread& th = threads_[t];
  current_ = t;
  threadIdx = th.index;
  if (th.state == State::NotStarted) {
    if (free_stacks_.empty()) {
      stacks_.push_back(std::make_unique<FiberStack>(stack_bytes()));
      free_stacks_.push_back(static_cast<int>(stacks_.size()) - 1);
    }
    th.stack = free_stacks_.back();
    free_stacks_.pop_back();
    fiber_prepare(th.context, *stacks_[th.stack], &BlockRunner::thread_main, this);
  }
  th.state = State::Runnable;
  fiber_switch(scheduler_, th.context);
  current_ = -1;
}

// Thrown into a thread's own frames to unwind them (running their destructors) when its block is
// abandoned after a fault: by fail() in the thread that finds the fault, and by
// yield_to_scheduler() in each thread the scheduler wakes to clean up (see run()).
struct AbandonBlock {};

void BlockRunner::thread_main(void* runner) {
  BlockRunner& r = *static_cast<BlockRunner*>(runner);
  fiber_entered(r.scheduler_);
  try {
    r.launch_->thread();
    r.thread_finished();
  } catch (const AbandonBlock&) {
  } catch (const std::exception& e) {
    if (r.fault_.empty()) r.fault_ = r.describe(r.current_) + " threw an exception: " + e.what();
  } catch (...) {
    if (r.fault_.empty()) r.fault_ = r.describe(r.current_) + " threw an exception";
  }
  r.leave();
}

// The end of a fiber: its stack goes back to the pool and it switches away for good.
void BlockRunner::leave() {
  Thread& th = threads_[current_];
  th.state = State::Done;
  // The stack is still in use until the switch below; its next user starts after that.
  stacks_[th.stack]->forget_frames_above(__builtin_frame_address(0));
  free_stacks_.push_back(th.stack);
  th.stack = -1;
  yield_to_scheduler(true);
  std::abort();  // a finished fiber is never resumed
}

void BlockRunner::yield_to_scheduler(bool finished) {
  fiber_switch(threads_[current_].context, scheduler_, finished);
  if (unwinding_) throw AbandonBlock{};
}

uint64_t BlockRunner::next_random() {
  rng_ = splitmix64(rng_);
  return rng_;
}

[[noreturn]] void BlockRunner::fail(const std::string& message) {
  fault_ = message;
  throw AbandonBlock{};
}

// ---- __syncthreads ------------------------------------------------------------------------------

void BlockRunner::thread_finished() {
  const int t = current_;
  threads_[t].state = State::Done;
  warps_[t / 32].done_lanes |= 1u << (t % 32);
  ++done_;
  if (at_barrier_ > 0) {
    std::vector<int> waiting;
    Site site{nullptr, 0};
    for (int u = 0; u < count_; ++u)
      if (threads_[u].state == State::AtBarrier)
        waiting.push_back(u), site = threads_[u].waiting_at;
    fail(describe(t) + " finished while " + describe_set(waiting) + " wait at __syncthreads() (" +
         where(site) + "): every thread of a block must reach each __syncthreads()");
  }
  const Warp& w = warps_[t / 32];
  const unsigned lane_bit = 1u << (t % 32);
  if (w.pending && (w.mask & lane_bit) && !(w.arrived & lane_bit))
    fail(describe(t) + ", lane " + std::to_string(t % 32) + " of warp " + std::to_string(t / 32) +
         ", finished without calling " + op_name(w.op) + " (" + where(w.site) + ") with mask " +
         hex(w.mask) + ", which names its lane; the other lanes wait for it");
}

void BlockRunner::barrier(Site site) {
  const int t = current_;
  if (done_ > 0) {
    std::vector<int> finished;
    for (int u = 0; u < count_; ++u)
      if (threads_[u].state == State::Done) finished.push_back(u);
    fail(describe(t) + " reached __syncthreads() (" + where(site) + ") after " +
         describe_set(finished) +
         " had finished: every thread of a block must reach each __syncthreads()");
  }
  const Warp& w = warps_[t / 32];
  const unsigned lane_bit = 1u << (t % 32);
  if (w.pending && (w.mask & lane_bit) && !(w.arrived & lane_bit))
    fail(describe(t) + ", lane " + std::to_string(t % 32) + " of warp " + std::to_string(t / 32) +
         ", reached __syncthreads() (" + where(site) + ") while the other lanes of its warp " +
         "wait for it in " + op_name(w.op) + " (" + where(w.site) + ", mask " + hex(w.mask) +
         "): a deadlock");
  threads_[t].state = State::AtBarrier;
  threads_[t].waiting_at = site;
  warps_[t / 32].barrier_lanes |= 1u << (t % 32);
  if (++at_barrier_ == count_) release_barrier();
  yield_to_scheduler();
}

void BlockRunner::release_barrier() {
  // One barrier for the whole block: threads waiting at different __syncthreads() calls are
  // divergent code that the hardware does not define.
  const Site first = threads_[0].waiting_at;
  std::vector<int> here, elsewhere;
  Site other{nullptr, 0};
  for (int u = 0; u < count_; ++u) {
    if (same_site(threads_[u].waiting_at, first)) {
      here.push_back(u);
    } else {
      elsewhere.push_back(u);
      other = threads_[u].waiting_at;
    }
  }
  if (!elsewhere.empty())
    fail("divergent __syncthreads(): " + describe_set(here) + " wait at " + where(first) + ", " +
         describe_set(elsewhere) + " at " + where(other));
  for (int u = 0; u < count_; ++u) {
    threads_[u].state = State::Runnable;
    runnable_.push_back(u);
  }
  for (Warp& w : warps_) w.barrier_lanes = 0;
  at_barrier_ = 0;
}

// ---- Deadlock and descriptions ------------------------------------------------------------------

void BlockRunner::diagnose_deadlock() {
  std::ostringstream os;
  os << "deadlock: no thread can go on;";
  for (int u = 0; u < count_; ++u) {
    const Thread& th = threads_[u];
    if (th.state != State::AtBarrier && th.state != State::AtWarp) continue;
    os << " " << describe(u) << " waits "
       << (th.state == State::AtBarrier ? "at __syncthreads()" : "in a warp function") << " ("
       << where(th.waiting_at) << ");";
    if (os.tellp() > 600) {
      os << " ...";
      break;
    }
  }
  fault_ = os.str();
}

std::string BlockRunner::describe(int t) const {
  const uint3 i = threads_[t].index;
  return "thread (" + std::to_string(i.x) + "," + std::to_string(i.y) + "," + std::to_string(i.z) +
         ")";
}

// "threads (0,0,0)..(30,0,0), (32,0,0)" from linear indices, consecutive runs joined.
std::string BlockRunner::describe_set(const std::vector<int>& threads) const {
  if (threads.size() == 1) return describe(threads[0]);
  std::string text = std::to_string(threads.size()) + " threads [";
  int runs = 0;
  for (size_t i = 0; i < threads.size();) {
    size_t j = i;
    while (j + 1 < threads.size() && threads[j + 1] == threads[j] + 1) ++j;
    if (runs == 4) {
      text += ", ...";
      break;
    }
    if (runs++) text += ", ";
    text += describe(threads[i]).substr(7);
    if (j > i) text += ".." + describe(threads[j]).substr(7);
    i = j + 1;
  }
  return text + "]";
}

}  // namespace busi::emu
