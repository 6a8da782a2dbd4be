// Fiber stacks and the context switch (fiber.h): a hand-written switch on x86-64, ucontext
// elsewhere, and the AddressSanitizer annotations around both.
#include "kernels/cuda/emulator/fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#if defined(__SANITIZE_ADDRESS__)
#define BUSI_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BUSI_EMU_ASAN 1
#endif
#endif
#ifdef BUSI_EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace busi::emu {

// ---- Stacks -------------------------------------------------------------------------------------

FiberStack::FiberStack(size_t bytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_ = (bytes + page - 1) / page * page;
  mapped_ = size_ + page;
  void* p = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    std::fprintf(stderr, "busi: emulated CUDA device: cannot map a %zu-byte fiber stack\n", bytes);
    std::abort();
  }
  mapping_ = static_cast<char*>(p);
  mprotect(mapping_, page, PROT_NONE);  // the guard page: stacks grow down into it
  usable_ = mapping_ + page;
}

FiberStack::~FiberStack() { munmap(mapping_, mapped_); }

void FiberStack::forget_frames_above([[maybe_unused]] const void* p) {
#ifdef BUSI_EMU_ASAN
  constexpr size_t kMargin = 16 << 10;  // the switch's own frames lie below p
  char* from = static_cast<char*>(const_cast<void*>(p));
  from = from - usable_ > static_cast<ptrdiff_t>(kMargin) ? from - kMargin : usable_;
  ASAN_UNPOISON_MEMORY_REGION(from, static_cast<size_t>(usable_ + size_ - from));
#endif
}

// ---- AddressSanitizer bookkeeping ---------------------------------------------------------------

namespace {

inline void before_switch(FiberContext& from, const FiberContext& to, bool finished) {
#ifdef BUSI_EMU_ASAN
  __sanitizer_start_switch_fiber(finished ? nullptr : &from.fake_stack, to.stack_bottom,
                                 to.stack_size);
#else
  (void)from, (void)to, (void)finished;
#endif
}

inline void after_switch(FiberContext& self) {
#ifdef BUSI_EMU_ASAN
  __sanitizer_finish_switch_fiber(self.fake_stack, nullptr, nullptr);
#else
  (void)self;
#endif
}

}  // namespace

void fiber_entered(FiberContext& from) {
#ifdef BUSI_EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &from.stack_bottom, &from.stack_size);
#else
  (void)from;
#endif
}

#if defined(__x86_64__)

// ---- x86-64: the switch -------------------------------------------------------------------------
// busi_emu_switch(save, load): pushes the registers the System V ABI says a callee must keep
// (rbx, rbp, r12-r15) and the SSE and x87 control words, stores rsp in *save, loads rsp = load
// and pops the other context's registers; `ret` then continues wherever that context switched
// away (or, the first time, at busi_emu_fiber_start, which calls entry(arg) from r13 and r12).
extern "C" void busi_emu_switch(void** save, void* load);
extern "C" void busi_emu_fiber_start();

asm(R"(
  .text
  .globl busi_emu_switch
  .hidden busi_emu_switch
  .type busi_emu_switch, @function
  .p2align 4
busi_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size busi_emu_switch, .-busi_emu_switch

  .globl busi_emu_fiber_start
  .hidden busi_emu_fiber_start
  .type busi_emu_fiber_start, @function
  .p2align 4
busi_emu_fiber_start:
  movq %r12, %rdi
  callq *%r13
  ud2
  .size busi_emu_fiber_start, .-busi_emu_fiber_start
)");

void fiber_prepare(FiberContext& ctx, FiberStack& stack, void (*entry)(void*), void* arg) {
  // The top of the stack, 16-byte aligned: after the 8 words below are popped, rsp is that top,
  // so the `call` in busi_emu_fiber_start leaves the alignment the ABI requires.
  auto top = reinterpret_cast<uintptr_t>(stack.bottom() + stack.size()) & ~uintptr_t(15);
  auto* words = reinterpret_cast<uint64_t*>(top) - 8;
  words[0] = 0x037Full << 32 | 0x1F80u;          // MXCSR (masked exceptions) and x87 control word
  words[1] = 0;                                  // r15
  words[2] = 0;                                  // r14
  words[3] = reinterpret_cast<uint64_t>(entry);  // r13
  words[4] = reinterpret_cast<uint64_t>(arg);    // r12
  words[5] = 0;                                  // rbx
  words[6] = 0;                                  // rbp
  words[7] = reinterpret_cast<uint64_t>(&busi_emu_fiber_start);  // where `ret` goes
  ctx.sp = words;
  ctx.stack_bottom = stack.bottom();
  ctx.stack_size = stack.size();
  ctx.fake_stack = nullptr;
}

void fiber_switch(FiberContext& from, FiberContext& to, bool finished) {
  before_switch(from, to, finished);
  busi_emu_switch(&from.sp, to.sp);
  after_switch(from);
}

#else

// ---- Elsewhere: ucontext ------------------------------------------------------------------------
// makecontext passes only int arguments, so the entry and its argument wait in thread-local
// slots until the new context starts.

namespace {
thread_local void (*pending_entry)(void*) = nullptr;
thread_local void* pending_arg = nullptr;
void ucontext_start() { pending_entry(pending_arg); }
}  // namespace

void fiber_prepare(FiberContext& ctx, FiberStack& stack, void (*entry)(void*), void* arg) {
  getcontext(&ctx.uc);
  ctx.uc.uc_stack.ss_sp = stack.bottom();
  ctx.uc.uc_stack.ss_size = stack.size();
  ctx.uc.uc_link = nullptr;
  makecontext(&ctx.uc, ucontext_start, 0);
  ctx.stack_bottom = stack.bottom();
  ctx.stack_size = stack.size();
  ctx.fake_stack = nullptr;
  pending_entry = entry;
  pending_arg = arg;
}

void fiber_switch(FiberContext& from, FiberContext& to, bool finished) {
  before_switch(from, to, finished);
  swapcontext(&from.uc, &to.uc);
  after_switch(from);
}

#endif

}  // namespace busi::emu
