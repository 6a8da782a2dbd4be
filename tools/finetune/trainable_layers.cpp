// Freezing and unfreezing VGG16's layers per phase (see trainable_layers.h).
#include "tools/finetune/trainable_layers.h"

#include "kernels/common/error.h"

namespace busi::tools {

// Phase 1 ("head"): the head and every He-initialised conv layer train, the pretrained layers
// are frozen. Phase 2 ("finetune"): additionally the pretrained layers of the blocks from
// --unfreeze-from on. Returns the parameter groups: "new" (head, He-initialised convs) at
// `lr`, "pretrained" at lr * base_lr_scale.
std::vector<optim::ParamGroup> set_trainable(models::VGG16& model,
                                             const std::set<std::string>& pretrained_layers,
                                             bool finetune, const std::string& unfreeze_from,
                                             float base_lr_scale, float lr, float weight_decay) {
  const int unfreeze_block = models::VGG16::block_of(unfreeze_from);
  optim::ParamGroup fresh{"new", {}, lr, weight_decay};
  optim::ParamGroup base{"pretrained", {}, lr * base_lr_scale, weight_decay};
  for (const std::string& layer : models::VGG16::conv_layer_names()) {
    const bool is_pretrained = pretrained_layers.count(layer) > 0;
    const bool trains =
        !is_pretrained || (finetune && models::VGG16::block_of(layer) >= unfreeze_block);
    model.conv(layer)->set_requires_grad(trains);
    if (!trains) continue;
    for (const NamedTensor& t : model.conv(layer)->named_parameters())
      (is_pretrained ? base : fresh).params.push_back({layer + "." + t.name, t.tensor});
  }
  for (const NamedTensor& t : model.head_fc()->named_parameters())
    fresh.params.push_back({"head_fc." + t.name, t.tensor});
  std::vector<optim::ParamGroup> groups = {fresh};
  if (!base.params.empty()) groups.push_back(base);
  return groups;
}

std::vector<std::string> layers_phase2_unfreezes(const std::set<std::string>& pretrained_layers,
                                                 const std::string& unfreeze_from) {
  const int unfreeze_block = models::VGG16::block_of(unfreeze_from);
  std::vector<std::string> layers;
  for (const std::string& layer : models::VGG16::conv_layer_names())
    if (pretrained_layers.count(layer) > 0 && models::VGG16::block_of(layer) >= unfreeze_block)
      layers.push_back(layer);
  return layers;
}

size_t frozen_prefix(models::VGG16& model) {
  size_t k = 0;
  for (const std::string& layer : models::VGG16::conv_layer_names()) {
    if (model.conv(layer)->weight.requires_grad()) break;
    ++k;
  }
  return k;
}

}  // namespace busi::tools
