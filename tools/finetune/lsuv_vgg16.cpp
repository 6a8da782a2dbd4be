// LSUV of VGG16's randomly initialised conv layers (see lsuv_vgg16.h).
#include "tools/finetune/lsuv_vgg16.h"

#include <cstdio>

#include "engine/autograd.h"
#include "kernels/common/error.h"
#include "tools/train/batch_source.h"

namespace busi::tools {

std::vector<LsuvLayerReport> lsuv_vgg16(models::VGG16& model,
                                        const std::set<std::string>& pretrained,
                                        const data::ImageCache& cache,
                                        const std::vector<int64_t>& train_ids, int64_t images,
                                        data::LoaderOptions eval_options, Device device,
                                        LsuvMode mode) {
  BUSI_CHECK(images >= 2, "--lsuv-batch must be at least 2, got ", images);
  BUSI_CHECK(!train_ids.empty(), "LSUV: no training images");
  // Evenly spread over the training ids, which come sorted by class: every class is in the batch.
  const auto n = std::min<int64_t>(images, static_cast<int64_t>(train_ids.size()));
  std::vector<int64_t> chosen;
  for (int64_t i = 0; i < n; ++i)
    chosen.push_back(
        train_ids[static_cast<size_t>(i * static_cast<int64_t>(train_ids.size()) / n)]);
  eval_options.batch_size = n;
  eval_options.shuffle = false;
  eval_options.augment = false;
  LoaderSource source(cache, chosen, eval_options);
  source.start_epoch(0);
  std::optional<data::Batch> batch = source.next();
  BUSI_CHECK(batch.has_value(), "LSUV: the loader gave no batch");

  const bool was_training = model.is_training();
  model.eval();  // dropout off (only the head has it; the convs do not depend on the mode)
  NoGradGuard no_grad;
  Tensor h = batch->inputs.to(device);  // (N, 3, H, W): the input of layer 0
  std::vector<LsuvLayerReport> reports;
  const auto& names = models::VGG16::conv_layer_names();
  LsuvOptions options;
  options.mode = mode;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!pretrained.count(names[i])) {
      nn::Conv2d& conv = *model.conv(names[i]);
      LsuvLayer layer{names[i], &conv.weight, &conv.bias,
                      [&model, &h, i] { return model.conv_preactivation(h, i); }};
      const LsuvLayerReport r = lsuv_init({layer}, options).front();
      std::printf("lsuv: %-12s output std %.3g -> %.3f, mean %+.3g -> %+.3f (%d step%s%s)\n",
                  r.name.c_str(), r.std_before, r.std_after, r.mean_before, r.mean_after,
                  r.iterations, r.iterations == 1 ? "" : "s",
                  r.dead_channels
                      ? (", " + std::to_string(r.dead_channels) + " constant channels").c_str()
                      : "");
      reports.push_back(r);
    }
    h = relu(model.conv_preactivation(h, i));  // the next layer's input, with this one final
  }
  model.train(was_training);
  return reports;
}

Json lsuv_json(const std::vector<LsuvLayerReport>& reports) {
  Json out = Json::array();
  for (const LsuvLayerReport& r : reports) {
    Json j = Json::object();
    j["layer"] = r.name;
    j["std_before"] = r.std_before;
    j["std_after"] = r.std_after;
    j["mean_before"] = r.mean_before;
    j["mean_after"] = r.mean_after;
    j["iterations"] = static_cast<int64_t>(r.iterations);
    j["dead_channels"] = static_cast<int64_t>(r.dead_channels);
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace busi::tools
