// The exponential moving average of a model's weights (weight_average.h): the update, the swap
// in and out of the model, and its checkpoint state.
#include "engine/weight_average.h"

#include <algorithm>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace busi::optim {

namespace {

const char kUpdatesName[] = "updates";

// The model's tensors, checked against the averages they pair with (same names, same order,
// same shapes): a model changed after the average was made is refused, never half-averaged.
StateDict live_tensors(const nn::Module& model, const StateDict& averages) {
  StateDict live = model.state_dict();
  BUSI_CHECK(live.size() == averages.size(), "weight average: the model has ", live.size(),
             " tensors, the average ", averages.size());
  for (size_t i = 0; i < live.size(); ++i)
    BUSI_CHECK(
        live[i].name == averages[i].name && live[i].tensor.shape() == averages[i].tensor.shape(),
        "weight average: the model's tensor '", live[i].name, "' does not match the average's '",
        averages[i].name, "'");
  return live;
}

}  // namespace

WeightAverage::WeightAverage(nn::Module& model, float decay) : model_(model), decay_(decay) {
  BUSI_CHECK(decay >= 0.0f && decay < 1.0f, "weight average: decay ", decay, " out of [0, 1)");
  for (const NamedTensor& t : model.state_dict()) average_.push_back({t.name, t.tensor.clone()});
}

float WeightAverage::decay_at(float decay, int64_t updates) {
  const float warm = static_cast<float>(1 + updates) / static_cast<float>(10 + updates);
  return std::min(decay, warm);
}

void WeightAverage::update() {
  NoGradGuard no_grad;
  const float keep = decay_at(decay_, updates_);
  const StateDict live = live_tensors(model_, average_);
  for (size_t i = 0; i < live.size(); ++i) {
    Tensor& avg = average_[i].tensor;
    const Tensor& w = live[i].tensor;
    if (avg.device() != w.device()) avg = avg.to(w.device());
    // avg + (1 - d)(w - avg): one rounding of the step, none of a large avg * d product.
    avg.copy_(add(avg, scale(sub(w, avg), 1.0f - keep)));
  }
  ++updates_;
}

StateDict WeightAverage::state_dict() const {
  StateDict out;
  for (const NamedTensor& a : average_) out.push_back({kPrefix + a.name, a.tensor});
  out.push_back(
      {std::string(kPrefix) + kUpdatesName, Tensor::scalar(static_cast<float>(updates_))});
  return out;
}

void WeightAverage::load_state_dict(const StateDict& state) {
  auto find = [&state](const std::string& name) -> const Tensor& {
    for (const NamedTensor& s : state)
      if (s.name == name) return s.tensor;
    throw Error(detail::concat("weight average: the checkpoint has no '", name,
                               "' (was the run trained without --ema?)"));
  };
  for (NamedTensor& a : average_) {
    const Tensor& saved = find(kPrefix + a.name);
    BUSI_CHECK(saved.shape() == a.tensor.shape(), "weight average: '", kPrefix, a.name,
               "' has shape ", shape_str(saved.shape()), ", the model's tensor ",
               shape_str(a.tensor.shape()));
    a.tensor.copy_(saved);
  }
  updates_ = static_cast<int64_t>(find(std::string(kPrefix) + kUpdatesName).item());
}

bool WeightAverage::owns(const std::string& name) { return name.starts_with(kPrefix); }

WeightAverage::Swap::Swap(WeightAverage& average) : average_(average) {
  const StateDict live = live_tensors(average.model_, average.average_);
  for (size_t i = 0; i < live.size(); ++i) {
    trained_.push_back({live[i].name, live[i].tensor.clone()});
    Tensor target = live[i].tensor;
    target.copy_(average.average_[i].tensor);
  }
}

WeightAverage::Swap::~Swap() {
  // The model's tensors are the same ones as at construction (checked there), so a plain copy
  // back cannot throw for a mismatch here.
  StateDict live = average_.model_.state_dict();
  for (size_t i = 0; i < live.size() && i < trained_.size(); ++i)
    live[i].tensor.copy_(trained_[i].tensor);
}

}  // namespace busi::optim
