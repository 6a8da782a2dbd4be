// An exponential moving average of a model's weights (Polyak averaging with exponential decay):
// the weights to evaluate, smoother than the last step's, and how a noisy validation score stops
// picking an epoch by the luck of its last few batches.
//
//   after optimiser step t (t = 0, 1, ...):  avg <- avg + (1 - d_t) (w - avg)
//   d_t = min(decay, (1 + t) / (10 + t))
//
// The warm-up of d_t (TensorFlow's ExponentialMovingAverage with num_updates) lets the average
// follow the fast early changes instead of remembering the random initialisation for 1/(1-decay)
// steps. Every parameter and every buffer is averaged (batch norm's running statistics too, as
// timm's ModelEmaV2 does), so the averaged model is complete on its own.
#pragma once

#include <cstdint>
#include <string>

#include "engine/nn.h"
#include "engine/state_dict.h"

namespace busi::optim {

class WeightAverage {
 public:
  // Starts the average at the model's current weights. `model` must outlive this object.
  // decay in [0, 1): the weight of the old average at each step once warmed up.
  WeightAverage(nn::Module& model, float decay);

  // Folds the model's current weights into the average (call after each optimiser step).
  void update();

  float decay() const { return decay_; }
  int64_t updates() const { return updates_; }
  // d_t of the formula above, for the update that follows `updates` earlier ones.
  static float decay_at(float decay, int64_t updates);

  // For checkpoints: each average as "<prefix><name>", and the update count as "<prefix>updates"
  // (a one-element tensor: exact up to 2^24 steps). load_state_dict takes exactly what
  // state_dict gives and throws busi::Error naming the first entry missing or of another shape.
  static constexpr const char* kPrefix = "weight_average.";
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state);
  // True when `name` belongs to this object's state (to tell it from optimiser state).
  static bool owns(const std::string& name);

  // While a Swap lives, the model holds the averaged weights; its end puts the trained ones back
  // exactly (copies, not recomputed). Changes made to the model meanwhile (e.g. batch-norm
  // statistics re-estimated for the averaged weights) are dropped with it.
  class Swap {
   public:
    explicit Swap(WeightAverage& average);
    ~Swap();
    Swap(const Swap&) = delete;
    Swap& operator=(const Swap&) = delete;

   private:
    WeightAverage& average_;
    StateDict trained_;  // copies of the model's own weights
  };

 private:
  nn::Module& model_;
  StateDict live_;     // the model's tensors (shared storage)
  StateDict average_;  // the averages, one per live tensor, same order
  float decay_;
  int64_t updates_ = 0;
};

}  // namespace busi::optim
