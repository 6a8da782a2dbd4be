// CUDA optimiser updates, twins of kernels/cpu/optim.cpp (same formulas, same float arithmetic),
// fused over all parameter tensors: one launch updates every tensor of a step. The host builds a
// table in device memory - the ParamSlots, then a list of chunks (slot, [begin, end)) of at most
// kChunk elements - and block b updates chunks b, b + gridDim, ...: large and small tensors are
// spread evenly over the GPU, and nothing depends on how many tensors there are.
#include <cuda_runtime.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/common/error.h"
#include "kernels/common/optim_step.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/optim.h"
#include "kernels/cuda/runtime/allocator.h"
#include "kernels/cuda/runtime/check.h"

namespace busi::cuda {

namespace {

constexpr int64_t kChunk = 16384;  // elements per chunk: 64 per thread of a 256-thread block

struct Chunk {
  int64_t slot;
  int64_t begin, end;  // elements [begin, end) of that slot's tensor
};

// The slots and their chunks, copied into one device buffer: (slots | chunks).
struct DeviceTable {
  DeviceBuffer buffer;
  const ParamSlot* slots = nullptr;
  const Chunk* chunks = nullptr;
  int64_t num_chunks = 0;
};

DeviceTable upload_table(const std::vector<ParamSlot>& slots) {
  std::vector<Chunk> chunks;
  for (size_t s = 0; s < slots.size(); ++s) {
    BUSI_CHECK(slots[s].n >= 0 && (slots[s].n == 0 || (slots[s].param && slots[s].grad)),
               "optimiser update: parameter slot ", s, " has no data or gradient");
    for (int64_t begin = 0; begin < slots[s].n; begin += kChunk)
      chunks.push_back({static_cast<int64_t>(s), begin, std::min(slots[s].n, begin + kChunk)});
  }
  DeviceTable table;
  table.num_chunks = static_cast<int64_t>(chunks.size());
  if (chunks.empty()) return table;
  const size_t slot_bytes = slots.size() * sizeof(ParamSlot);  // a multiple of 8: chunks aligned
  const size_t chunk_bytes = chunks.size() * sizeof(Chunk);
  std::vector<unsigned char> host(slot_bytes + chunk_bytes);
  std::memcpy(host.data(), slots.data(), slot_bytes);
  std::memcpy(host.data() + slot_bytes, chunks.data(), chunk_bytes);
  table.buffer = DeviceBuffer(host.size());
  // From pageable memory the copy returns once `host` has been staged, so `host` may go away
  // before the copy lands; the update kernel is queued behind it on the same stream.
  CUDA_CHECK(cudaMemcpyAsync(table.buffer.get(), host.data(), host.size(), cudaMemcpyHostToDevice,
                             stream()));
  table.slots = table.buffer.as<const ParamSlot>();
  table.chunks =
      reinterpret_cast<const Chunk*>(table.buffer.as<const unsigned char>() + slot_bytes);
  return table;
}

unsigned table_grid(int64_t num_chunks) {
  return static_cast<unsigned>(std::min<int64_t>(num_chunks, int64_t(sm_count()) * 8));
}

// SGD, one element at a time: sgd_step of kernels/common/optim_step.h (the CPU's formula).
__global__ void sgd_multi_kernel(const ParamSlot* slots, const Chunk* chunks, int64_t num_chunks,
                                 SgdHyper h, bool first_step) {
  const float lr = h.lr, mu = h.momentum, wd = h.weight_decay;
  for (int64_t c = blockIdx.x; c < num_chunks; c += gridDim.x) {
    const Chunk chunk = chunks[c];
    const ParamSlot slot = slots[chunk.slot];
    for (int64_t i = chunk.begin + threadIdx.x; i < chunk.end; i += blockDim.x)
      sgd_step(slot.param[i], slot.grad[i], mu == 0.0f ? nullptr : slot.state1 + i, lr, mu, wd,
               h.nesterov, first_step);
  }
}

// Adam / AdamW, one element at a time: adam_step of kernels/common/optim_step.h, with the bias
// corrections c1 = 1 - b1^t, c2 = 1 - b2^t computed on the host.
__global__ void adam_multi_kernel(const ParamSlot* slots, const Chunk* chunks, int64_t num_chunks,
                                  AdamHyper h, float correction1, float correction2) {
  const float b1 = h.beta1, b2 = h.beta2, lr = h.lr, wd = h.weight_decay, eps = h.eps;
  for (int64_t c = blockIdx.x; c < num_chunks; c += gridDim.x) {
    const Chunk chunk = chunks[c];
    const ParamSlot slot = slots[chunk.slot];
    for (int64_t i = chunk.begin + threadIdx.x; i < chunk.end; i += blockDim.x)
      adam_step(slot.param[i], slot.grad[i], slot.state1[i], slot.state2[i], lr, b1, b2, eps, wd,
                h.decoupled, correction1, correction2);
  }
}

}  // namespace

void sgd_update_multi(const std::vector<ParamSlot>& slots, const SgdHyper& h, bool first_step) {
  if (h.momentum != 0.0f)
    for (size_t s = 0; s < slots.size(); ++s)
      BUSI_CHECK(slots[s].n == 0 || slots[s].state1, "sgd_update_multi: slot ", s,
                 " has no momentum buffer");
  DeviceTable table = upload_table(slots);
  if (table.num_chunks == 0) return;
  BUSI_LAUNCH(sgd_multi_kernel, table_grid(table.num_chunks), kThreads, 0, table.slots,
              table.chunks, table.num_chunks, h, first_step);
}

void adam_update_multi(const std::vector<ParamSlot>& slots, const AdamHyper& h) {
  for (size_t s = 0; s < slots.size(); ++s)
    BUSI_CHECK(slots[s].n == 0 || (slots[s].state1 && slots[s].state2), "adam_update_multi: slot ",
               s, " has no moment buffers");
  // The same float expressions as the CPU twin, so both devices divide by identical numbers.
  const float correction1 = 1.0f - std::pow(h.beta1, static_cast<float>(h.step));
  const float correction2 = 1.0f - std::pow(h.beta2, static_cast<float>(h.step));
  DeviceTable table = upload_table(slots);
  if (table.num_chunks == 0) return;
  BUSI_LAUNCH(adam_multi_kernel, table_grid(table.num_chunks), kThreads, 0, table.slots,
              table.chunks, table.num_chunks, h, correction1, correction2);
}

}  // namespace busi::cuda
