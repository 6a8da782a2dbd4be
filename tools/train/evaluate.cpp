// Evaluation of a subset and frozen features computed once (see evaluate.h).
#include "tools/train/evaluate.h"

#include <chrono>

#include "engine/autograd.h"
#include "kernels/common/error.h"
#include "engine/ops.h"
#include "tools/metrics/classification.h"

namespace busi::tools {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Evaluation evaluate(nn::Module& model, const Forward& forward, BatchSource& source, Device device,
                    int64_t num_classes) {
  const auto start = std::chrono::steady_clock::now();
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  Evaluation result;
  double loss_sum = 0.0;
  source.start_epoch(0);  // evaluation sources are not shuffled: the epoch changes nothing
  while (std::optional<data::Batch> batch = source.next()) {
    const Tensor logits = forward(batch->inputs.to(device));
    loss_sum += cross_entropy(logits, batch->labels).item() * batch->labels.size();
    const std::vector<float> z = logits.to_vector();  // (B, K)
    const std::vector<float> probs = softmax(logits).to_vector();
    for (size_t i = 0; i < batch->labels.size(); ++i) {
      result.logits.emplace_back(z.begin() + i * num_classes, z.begin() + (i + 1) * num_classes);
      result.probs.emplace_back(probs.begin() + i * num_classes,
                                probs.begin() + (i + 1) * num_classes);
    }
    result.labels.insert(result.labels.end(), batch->labels.begin(), batch->labels.end());
    result.sample_ids.insert(result.sample_ids.end(), batch->sample_ids.begin(),
                             batch->sample_ids.end());
  }
  model.train(was_training);
  if (!result.labels.empty()) {
    const auto confusion =
        confusion_matrix(result.labels, argmax_predictions(result.probs), num_classes);
    int64_t correct = 0;
    for (int64_t c = 0; c < num_classes; ++c) correct += confusion[c][c];
    result.loss = loss_sum / result.labels.size();
    result.accuracy = static_cast<double>(correct) / result.labels.size();
    result.macro_f1 = macro_f1_from_confusion(confusion);
  }
  result.seconds = seconds_since(start);
  return result;
}

Rows compute_rows(const Forward& transform, BatchSource& source, Device device, int64_t epoch) {
  NoGradGuard no_grad;
  Rows out;
  const int64_t total = source.samples_per_epoch();
  int64_t filled = 0;
  source.start_epoch(epoch);
  while (std::optional<data::Batch> batch = source.next()) {
    const Tensor y = transform(batch->inputs.to(device));
    if (!out.rows.defined()) {  // the output shape is known after the first batch
      Shape shape = y.shape();
      shape[0] = total;
      out.rows = Tensor::empty(shape, device);
    }
    out.rows.narrow0(filled, y.size(0)).copy_(y);
    filled += y.size(0);
    out.labels.insert(out.labels.end(), batch->labels.begin(), batch->labels.end());
    out.sample_ids.insert(out.sample_ids.end(), batch->sample_ids.begin(), batch->sample_ids.end());
  }
  BUSI_CHECK(filled == total, "compute_rows: got ", filled, " rows, expected ", total);
  return out;
}

void refresh_precise_statistics(nn::Module& model, const Forward& forward, BatchSource& source,
                                Device device) {
  const bool was_training = model.is_training();
  model.eval();
  nn::begin_precise_statistics(model);
  compute_rows(forward, source, device);  // only the forward passes matter, not their outputs
  nn::end_precise_statistics(model);
  model.train(was_training);
}

}  // namespace busi::tools
