// CUDA optimiser updates, twins of kernels/cpu/optim.h, fused over many parameter tensors:
// one launch updates every tensor in `slots` (a table of pointers in device memory).
#pragma once

#include <vector>

#include "kernels/common/optim_hyper.h"

namespace busi::cuda {

void sgd_update_multi(const std::vector<ParamSlot>& slots, const SgdHyper& h, bool first_step);
void adam_update_multi(const std::vector<ParamSlot>& slots, const AdamHyper& h);

}  // namespace busi::cuda
