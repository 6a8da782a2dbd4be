// Reverse-mode automatic differentiation, define-by-run: every differentiable op that sees an
// input needing a gradient records a Node (its inputs and a backward function) on its output.
// Tensor::backward() walks these nodes in reverse topological order and accumulates gradients.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace busi {

// One recorded op. `backward` receives dL/d(output) and returns dL/d(input_i) for each input,
// in order; it may return an undefined Tensor for inputs that need no gradient
// (needs_input_grad(i) is false: frozen parameters, labels, constants).
struct Node {
  std::string op;              // "conv2d", "relu", ... (shown in errors and graph dumps)
  std::vector<Tensor> inputs;  // the op's differentiable inputs
  std::function<std::vector<Tensor>(const Tensor& grad_output)> backward;

  bool needs_input_grad(size_t i) const {
    return i < inputs.size() && inputs[i].defined() && inputs[i].requires_grad();
  }
};

// Gradient recording is on by default; NoGradGuard turns it off for its scope (inference,
// evaluation, frozen feature extraction). Thread-local, so a loader thread is not affected.
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// Gradient recording on for its scope, whatever the caller's mode (the GPU self-check runs
// backward passes wherever a tool asks for a device).
class EnableGradGuard {
 public:
  EnableGradGuard();
  ~EnableGradGuard();
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool previous_;
};

// True when an op given these inputs must record a node (grad mode on, some input requires grad).
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Attaches a node to `output` when any input requires a gradient (and grad mode is on); otherwise
// does nothing. `backward` follows the Node contract above. Returns `output` for chaining.
Tensor record(const char* op, Tensor output, std::vector<Tensor> inputs,
              std::function<std::vector<Tensor>(const Tensor& grad_output)> backward);

// Runs backpropagation from `root` seeded with `seed` (same shape as root). Called by
// Tensor::backward().
void run_backward(const Tensor& root, const Tensor& seed, bool retain_graph);

}  // namespace busi
