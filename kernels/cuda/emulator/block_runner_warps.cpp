// The warp functions of the block runner (block_runner.h): __shfl*_sync, __ballot_sync and
// __syncwarp as exchanges among the lanes a mask names, and the faults misusing them raises.
#include <algorithm>
#include <string>

#include "kernels/cuda/emulator/block_runner.h"
#include "kernels/cuda/emulator/site_text.h"

namespace busi::emu {

unsigned BlockRunner::lanes_present(int warp) const {
  const int lanes = std::min(32, count_ - warp * 32);
  return lanes == 32 ? 0xffffffffu : (1u << lanes) - 1u;
}

uint64_t BlockRunner::warp_collective(Site site, WarpOp op, unsigned mask, uint64_t bits, int arg,
                                      int width) {
  const int t = current_, warp = t / 32, lane = t % 32, base = warp * 32;
  // Built only for a message: this function runs for every lane of every shuffle.
  auto call = [&] { return std::string(op_name(op)) + " (" + where(site) + ")"; };
  if (!(mask >> lane & 1u))
    fail(describe(t) + " calls " + call() + " with mask " + hex(mask) +
         ", which leaves out its own lane " + std::to_string(lane));
  if (mask & ~lanes_present(warp))
    fail(describe(t) + " calls " + call() + " with mask " + hex(mask) + ", but warp " +
         std::to_string(warp) + " of this " + std::to_string(count_) +
         "-thread block has only the lanes " + hex(lanes_present(warp)));
  if (width < 1 || width > 32 || (width & (width - 1)))
    fail(describe(t) + " calls " + call() + " with width " + std::to_string(width) +
         ": it must be a power of two up to 32");
  Warp& w = warps_[warp];
  if (w.pending) {
    if (!same_site(w.site, site) || w.op != op || w.mask != mask || w.width != width)
      fail(describe(t) + " calls " + call() + " with mask " + hex(mask) + " while other lanes of " +
           "its warp wait in " + op_name(w.op) + " (" + where(w.site) + ") with mask " +
           hex(w.mask) + ": the lanes of a mask must make the same call");
  } else {
    w.pending = true;
    w.site = site;
    w.op = op;
    w.mask = mask;
    w.width = width;
    w.arrived = 0;
  }
  // Lanes of the mask that can no longer come: finished, or waiting at a barrier (which needs
  // this lane). Bit masks kept per warp, so the common case costs one test.
  const unsigned gone = mask & ~w.arrived & ~(1u << lane) & (w.done_lanes | w.barrier_lanes);
  for (int l = 0; gone && l < 32; ++l) {
    if (!(gone >> l & 1u)) continue;
    const Thread& other = threads_[base + l];
    if (other.state == State::Done)
      fail(describe(t) + " calls " + call() + " with mask " + hex(mask) + ", but lane " +
           std::to_string(l) + " (" + describe(base + l) + ") has finished without calling it");
    if (other.state == State::AtBarrier)
      fail(describe(t) + " calls " + call() + " with mask " + hex(mask) + ", but lane " +
           std::to_string(l) + " (" + describe(base + l) + ") waits at __syncthreads() (" +
           where(other.waiting_at) + "): a deadlock");
  }
  w.bits[lane] = bits;
  w.args[lane] = arg;
  w.arrived |= 1u << lane;
  threads_[t].state = State::AtWarp;
  threads_[t].waiting_at = site;
  if (w.arrived == w.mask) complete_warp(w, base);
  yield_to_scheduler();
  return threads_[t].warp_result;
}

void BlockRunner::complete_warp(Warp& w, int base) {
  uint64_t ballot = 0;
  for (int l = 0; l < 32; ++l)
    if ((w.mask >> l & 1u) && w.args[l] != 0) ballot |= uint64_t(1) << l;
  for (int l = 0; l < 32; ++l) {
    if (!(w.mask >> l & 1u)) continue;
    const int segment = l & ~(w.width - 1), a = w.args[l];
    int src = l;
    switch (w.op) {
      case WarpOp::ShuffleIndex:
        src = segment + (((a % w.width) + w.width) % w.width);
        break;
      case WarpOp::ShuffleUp:
        src = l - a >= segment ? l - a : l;
        break;
      case WarpOp::ShuffleDown:
        src = l + a < segment + w.width ? l + a : l;
        break;
      case WarpOp::ShuffleXor:
        src = (l ^ a) < segment + w.width ? (l ^ a) : l;
        break;
      default:
        break;
    }
    if (src < 0 || src > 31) src = l;
    uint64_t result = 0;
    if (w.op == WarpOp::Ballot) {
      result = ballot;
    } else if (w.op != WarpOp::Sync) {
      if (!(w.mask >> src & 1u))
        fail(describe(base + l) + " in " + op_name(w.op) + " (" + where(w.site) + ") reads lane " +
             std::to_string(src) + ", which is not in the mask " + hex(w.mask));
      result = w.bits[src];
    }
    threads_[base + l].warp_result = result;
    threads_[base + l].state = State::Runnable;
    runnable_.push_back(base + l);
  }
  w.pending = false;
}

}  // namespace busi::emu
