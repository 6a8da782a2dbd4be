// Fibers: stacks of their own and a switch between them, the way one host thread runs the many
// CUDA threads of a block. A switch saves the callee-saved registers and the stack pointer of
// one context and loads another's: about as cheap as a function call on x86-64 (hand-written
// switch); elsewhere it falls back to ucontext (slower: it also saves the signal mask).
// AddressSanitizer is told about every switch, so it keeps checking the fibers' stacks.
#pragma once

#include <cstddef>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace busi::emu {

// A stack from mmap, with an inaccessible guard page below it: an overflow faults at once
// instead of overwriting another fiber's stack.
class FiberStack {
 public:
  explicit FiberStack(size_t bytes);
  ~FiberStack();
  FiberStack(const FiberStack&) = delete;
  FiberStack& operator=(const FiberStack&) = delete;
  char* bottom() const { return usable_; }  // lowest usable address
  size_t size() const { return size_; }
  // A fiber's last frames never return (it switches away for good), so AddressSanitizer's marks
  // of their red zones would stay on the stack: before it is used again, forget_frames_above(p)
  // clears them from p (the deepest frame of the finished fiber, with a margin) to the top.
  void forget_frames_above(const void* p);

 private:
  char* mapping_ = nullptr;
  char* usable_ = nullptr;
  size_t mapped_ = 0, size_ = 0;
};

// One execution context: a fiber, or the host thread's own stack (the scheduler).
struct FiberContext {
#if defined(__x86_64__)
  void* sp = nullptr;  // saved stack pointer; the registers are on that stack
#else
  ucontext_t uc;
#endif
  const void* stack_bottom = nullptr;  // for AddressSanitizer
  size_t stack_size = 0;
  void* fake_stack = nullptr;
};

// Makes `ctx` start `entry(arg)` on `stack` when first switched to. `entry` must never return:
// it ends by switching away for the last time (fiber_switch with `finished`).
void fiber_prepare(FiberContext& ctx, FiberStack& stack, void (*entry)(void*), void* arg);

// Saves the current context into `from` and continues `to`; returns when something switches
// back to `from`. `finished`: `from` is never resumed (lets AddressSanitizer drop its state).
void fiber_switch(FiberContext& from, FiberContext& to, bool finished = false);

// Called first thing by a fiber's entry function: completes the switch that started it and
// records the bounds of the stack it came from in `from` (AddressSanitizer bookkeeping).
void fiber_entered(FiberContext& from);

}  // namespace busi::emu
