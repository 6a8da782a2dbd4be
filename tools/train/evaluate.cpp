// Evaluation of a subset and frozen features computed once (see evaluate.h).
#include "tools/train/evaluate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "engine/autograd.h"
#include "kernels/common/error.h"
#include "engine/ops.h"
#include "tools/metrics/classification.h"

namespace busi::tools {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Accuracy and macro-F1 of the argmax of each row of result.probs.
void score(Evaluation& result, int64_t num_classes) {
  if (result.labels.empty()) return;
  const auto confusion =
      confusion_matrix(result.labels, argmax_predictions(result.probs), num_classes);
  int64_t correct = 0;
  for (int64_t c = 0; c < num_classes; ++c) correct += confusion[c][c];
  result.accuracy = static_cast<double>(correct) / result.labels.size();
  result.macro_f1 = macro_f1_from_confusion(confusion);
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
  if (!result.labels.empty()) result.loss = loss_sum / result.labels.size();
  score(result, num_classes);
  result.seconds = seconds_since(start);
  return result;
}

Evaluation average_with_mirror(const Evaluation& plain, const Evaluation& mirrored,
                               int64_t num_classes) {
  BUSI_CHECK(plain.sample_ids == mirrored.sample_ids && plain.labels == mirrored.labels,
             "test-time flip: the mirrored evaluation holds other samples than the plain one");
  Evaluation out;
  out.sample_ids = plain.sample_ids;
  out.labels = plain.labels;
  out.seconds = plain.seconds + mirrored.seconds;
  double loss_sum = 0.0;
  for (size_t i = 0; i < plain.labels.size(); ++i) {
    std::vector<float> p(num_classes), z(num_classes);
    for (int64_t c = 0; c < num_classes; ++c) {
      p[c] = 0.5f * (plain.probs[i][c] + mirrored.probs[i][c]);
      // A probability that underflowed to 0 in both: the log of the smallest normal float
      // instead of -infinity (its softmax is still 0 to float precision).
      z[c] = std::log(std::max(p[c], std::numeric_limits<float>::min()));
    }
    loss_sum -= z[plain.labels[i]];
    out.probs.push_back(std::move(p));
    out.logits.push_back(std::move(z));
  }
  if (!out.labels.empty()) out.loss = loss_sum / out.labels.size();
  score(out, num_classes);
  return out;
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
