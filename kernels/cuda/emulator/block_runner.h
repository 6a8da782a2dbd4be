// One thread block of an emulated launch, run to its end on one host thread. Each CUDA thread is
// a fiber; a thread runs until it reaches __syncthreads, a warp function or its end, and then the
// runner picks the next thread at random (from the seed) among those that can go on. So the
// order of the threads between two barriers changes with the seed, and code that relies on an
// order the hardware does not promise (a missing barrier, lanes of a warp assumed to run in
// lockstep) computes a wrong result. Misuse the hardware would hang on or leave undefined - a
// barrier some threads skip, a warp function some lanes of its mask skip or call from elsewhere,
// a mask naming lanes that do not exist - is a fault, reported with the threads and lines.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cuda/emulator/device_code.h"
#include "kernels/cuda/emulator/fiber.h"
#include "kernels/cuda/emulator/launch.h"

namespace busi::emu {

class BlockRunner {
 public:
  BlockRunner();
  ~BlockRunner();
  BlockRunner(const BlockRunner&) = delete;
  BlockRunner& operator=(const BlockRunner&) = delete;

  // Runs every thread of block `block` (linear index) of `launch` to its end. Returns false on a
  // fault, described by fault().
  bool run(const LaunchRequest& launch, uint64_t order_seed, uint64_t block);
  const std::string& fault() const { return fault_; }

  // Entered from device code (device_code.h) by the running thread.
  void barrier(Site site);
  uint64_t warp_collective(Site site, WarpOp op, unsigned mask, uint64_t bits, int arg, int width);
  void* dynamic_shared() { return dynamic_shared_.data(); }

 private:
  enum class State : uint8_t { NotStarted, Runnable, AtBarrier, AtWarp, Done };
  struct Thread {
    uint3 index;
    State state = State::NotStarted;
    int stack = -1;  // index into stacks_, while started and not done
    FiberContext context;
    Site waiting_at{nullptr, 0};
    uint64_t warp_result = 0;
  };
  struct Warp {  // a warp function some lanes have reached and others not yet
    bool pending = false;
    Site site{nullptr, 0};
    WarpOp op = WarpOp::Sync;
    unsigned mask = 0, arrived = 0;
    unsigned done_lanes = 0, barrier_lanes = 0;  // lanes that finished / wait at __syncthreads
    int width = 32;
    uint64_t bits[32] = {};
    int args[32] = {};
  };

  static void thread_main(void* runner);
  void start_or_resume(int t);
  void yield_to_scheduler(bool finished = false);
  void thread_finished();
  [[noreturn]] void leave();
  void complete_warp(Warp& warp, int first_lane);
  void release_barrier();
  [[noreturn]] void fail(const std::string& message);
  void diagnose_deadlock();
  uint64_t next_random();

  std::string describe(int t) const;  // "thread (3,0,0)"
  std::string describe_set(const std::vector<int>& threads) const;
  unsigned lanes_present(int warp) const;  // bit l: lane l exists in this block

  const LaunchRequest* launch_ = nullptr;
  dim3 block_dim_;
  int count_ = 0;  // threads in the block
  std::vector<Thread> threads_;
  std::vector<Warp> warps_;
  std::vector<int> runnable_;
  int current_ = -1;
  int at_barrier_ = 0, done_ = 0;
  bool unwinding_ = false;  // after a fault: the waiting threads are being unwound
  uint64_t rng_ = 0;
  std::string fault_;
  FiberContext scheduler_;
  std::vector<std::unique_ptr<FiberStack>> stacks_;
  std::vector<int> free_stacks_;
  std::vector<unsigned char> dynamic_shared_;
};

// The runner of the calling host thread (one per thread, reused from block to block).
BlockRunner& this_thread_runner();

}  // namespace busi::emu
