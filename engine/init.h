// Seeded weight initialisers (in place). fan_in = in_channels * kH * kW for a conv weight
// (O, C, kH, kW) and `in` for a linear weight (out, in); fan_out likewise with O / out.
#pragma once

#include "engine/random.h"
#include "engine/tensor.h"

namespace busi::init {

int64_t fan_in(const Tensor& weight);
int64_t fan_out(const Tensor& weight);

void uniform_(Tensor& t, float lo, float hi, Generator& gen = default_generator());
void normal_(Tensor& t, float mean, float std, Generator& gen = default_generator());
// He et al. 2015, for layers followed by ReLU: N(0, 2 / fan_in) keeps the activations' variance
// constant from layer to layer.
void kaiming_normal_(Tensor& w, Generator& gen = default_generator());
// Same variance, uniform: U(-b, b) with b = sqrt(6 / fan_in).
void kaiming_uniform_(Tensor& w, Generator& gen = default_generator());
// Glorot & Bengio 2010: U(-b, b) with b = sqrt(6 / (fan_in + fan_out)).
void xavier_uniform_(Tensor& w, Generator& gen = default_generator());
// N(0, 2 / (fan_in + fan_out)).
void xavier_normal_(Tensor& w, Generator& gen = default_generator());

}  // namespace busi::init
