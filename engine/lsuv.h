// Data-dependent initialisation of layers that start from random weights: each layer, in forward
// order, is rescaled until its output before the nonlinearity has unit variance on a batch of
// real inputs (LSUV, Mishkin & Matas 2016, "All you need is a good init").
//
// Why: a layer's pre-activation z = W x + b scales with W, so the scale of the signal after L
// random layers is the product of L factors that He initialisation only gets right on average,
// for inputs of unit variance. Behind pretrained layers whose outputs have their own scale, or
// after many layers, the logits and the gradients are then far too large or too small, and the
// first epochs are spent undoing it (a loss stuck at ln K). Measuring each layer on real data
// and dividing W and b by the output's standard deviation sets every scale to 1 exactly, since
// z / s has standard deviation 1 (the layer's input does not depend on its own W).
//
// Per channel (the default here): each output channel c gets its own factor and shift, w_c / s_c
// and (b_c - m_c) / s_c, so that z_c has mean 0 and standard deviation 1 over the batch
// (Krähenbühl et al. 2016, "Data-dependent initializations of CNNs"): centred channels keep half
// their values through the ReLU, for every channel, instead of some channels dying (always
// negative) and others passing a constant (always positive), which carries nothing about the
// image. Whole layer: one factor for all channels, the original LSUV.
//
// One step is exact: z is linear in (W, b), so dividing both by s divides z by s (and the
// shift by m_c subtracts m_c); further iterations only absorb float rounding.
//
// The paper first replaces W by an orthonormal matrix (SVD of a Gaussian one). Not done here:
// the engine has no QR or SVD, and a conv weight of O rows of n = C*k*k values, n large, is
// nearly orthogonal already: two Gaussian rows have a cosine of about 1/sqrt(n) (0.015 for
// VGG16's 512 x 4608 layers). Orthogonality matters for very deep plain stacks; the scale,
// which is what a stalled loss behind a few random layers is about, is set from the data.

#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace busi {

struct LsuvLayer {
  std::string name;
  Tensor* weight = nullptr;  // (O, ...): row c makes output channel c; scaled in place
  Tensor* bias = nullptr;    // (O), or nullptr
  // The layer's output before its nonlinearity, (N, O, ...) or (N, O), on the fixed batch,
  // computed without gradient with the layer's current weights.
  std::function<Tensor()> preactivation;
};

enum class LsuvMode { PerChannel, WholeLayer };

struct LsuvOptions {
  LsuvMode mode = LsuvMode::PerChannel;
  double tolerance = 0.02;  // stop when |std - 1| (and per channel |mean|) is below this
  int max_iterations = 5;   // one is exact for a linear layer; more only guard against rounding
};

struct LsuvLayerReport {
  std::string name;
  double std_before = 0, std_after = 0;    // of the whole output
  double mean_before = 0, mean_after = 0;  // of the whole output
  int iterations = 0;
  int dead_channels = 0;  // per channel: output channels constant on the batch, left as they were
};

// Initialises the layers in the given order (the order of the forward pass: a layer's input
// depends on the layers before it). Throws busi::Error naming the layer when its output is
// constant on the whole batch (nothing to normalise: dividing by its std 0 would give NaN or
// infinite weights) or not finite. Per channel, a channel constant on the batch is left as it
// was and counted in dead_channels.
std::vector<LsuvLayerReport> lsuv_init(const std::vector<LsuvLayer>& layers,
                                       const LsuvOptions& options = {});

}  // namespace busi
