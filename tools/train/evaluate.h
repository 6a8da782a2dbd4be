// Forward passes without gradient over a batch source: the evaluation of a subset (validation
// each epoch, the test subset at the end) and the frozen part of a network applied once to every
// row (compute_rows, VGG16's cached features).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "engine/device.h"
#include "engine/nn.h"
#include "engine/tensor.h"
#include "tools/train/batch_source.h"

namespace busi::tools {

// Network inputs (images, or features computed once by a frozen part of the network) -> logits.
using Forward = std::function<Tensor(const Tensor& inputs)>;

// Runs every batch of `source` through `forward` (batch inputs moved to `device`) with the
// model in eval mode and no gradient, and collects the per-sample results and the scores:
// validation each epoch, the test subset at the end.
struct Evaluation {
  std::vector<int64_t> sample_ids, labels;
  std::vector<std::vector<float>> logits;  // the network's outputs, one row per sample
  std::vector<std::vector<float>> probs;   // softmax of the logits
  double loss = 0.0;                       // mean unweighted cross-entropy
  double accuracy = 0.0, macro_f1 = 0.0;
  double seconds = 0.0;
};
Evaluation evaluate(nn::Module& model, const Forward& forward, BatchSource& source, Device device,
                    int64_t num_classes);

// Test-time flip: the evaluation of the same images and their mirrors, merged. Each image's
// probabilities are the mean of the two, p = (p_plain + p_mirror) / 2, and its "logits" are
// log p, so that softmax(logits / T) is the temperature-scaled family calibration fits (T = 1
// gives p back); loss, accuracy and macro-F1 are recomputed from p. The two evaluations must
// hold the same samples in the same order (checked).
Evaluation average_with_mirror(const Evaluation& plain, const Evaluation& mirrored,
                               int64_t num_classes);

// Every row of `source` (one epoch, in order) passed through `transform` without gradient:
// the frozen part of a network applied once. Returns the outputs stacked (N, ...) on `device`
// with the labels and sample ids in the same order.
struct Rows {
  Tensor rows;
  std::vector<int64_t> labels, sample_ids;
};
// `epoch` is the source's epoch: with an augmenting, unshuffled loader each epoch gives another
// augmented version of every image, in the same order.
Rows compute_rows(const Forward& transform, BatchSource& source, Device device, int64_t epoch = 0);

// Precise statistics (engine/nn.h): every batch-norm and mean-centring layer of `model` set to
// the exact statistics of `source`'s rows (one epoch, in order) under the current weights, with
// dropout off; the model's mode is restored. Called before each validation, so that the epoch
// chosen on validation is chosen for its weights, not for how far the running statistics lag.
void refresh_precise_statistics(nn::Module& model, const Forward& forward, BatchSource& source,
                                Device device);

}  // namespace busi::tools
