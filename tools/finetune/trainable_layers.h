// Which of VGG16's layers train in which phase: pretrained conv layers frozen in the head phase,
// the blocks from --unfreeze-from on trained in the fine-tuning phase, the parameter groups and
// their rates; and the frozen prefix, the part that may be computed once.
#pragma once

#include <cstddef>
#include <set>
#include <string>
#include <vector>

#include "engine/nn.h"
#include "engine/optim.h"
#include "models/vgg16.h"

namespace busi::tools {

// Phase 1 ("head"): the head and every He-initialised conv layer train, the pretrained layers
// are frozen. Phase 2 ("finetune"): additionally the pretrained layers of the blocks from
// --unfreeze-from on. Returns the parameter groups: "new" (head, He-initialised convs) at
// `lr`, "pretrained" at lr * base_lr_scale.
std::vector<optim::ParamGroup> set_trainable(models::VGG16& model,
                                             const std::set<std::string>& pretrained_layers,
                                             bool finetune, const std::string& unfreeze_from,
                                             float base_lr_scale, float lr, float weight_decay);

// The pretrained layers phase 2 would unfreeze (those of the blocks from `unfreeze_from` on), in
// network order. Empty when the weight file did not fill them: phase 2 would then train exactly
// what phase 1 trained, and only restart its learning-rate schedule.
std::vector<std::string> layers_phase2_unfreezes(const std::set<std::string>& pretrained_layers,
                                                 const std::string& unfreeze_from);

// The number of leading conv layers that are frozen: the part that may be computed once.
size_t frozen_prefix(models::VGG16& model);

}  // namespace busi::tools
