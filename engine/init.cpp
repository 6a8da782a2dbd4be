// Seeded weight initialisers: values are drawn on the host in element order (so a seed gives
// the same weights on every machine and device) and copied to the tensor's device.
#include "engine/init.h"

#include <cmath>
#include <functional>

namespace busi::init {

int64_t fan_in(const Tensor& w) {
  BUSI_CHECK(w.dim() >= 2, "init: fan_in needs a weight with at least 2 dimensions, got ",
             shape_str(w.shape()));
  return w.numel() / w.size(0);
}

int64_t fan_out(const Tensor& w) {
  BUSI_CHECK(w.dim() >= 2, "init: fan_out needs a weight with at least 2 dimensions, got ",
             shape_str(w.shape()));
  return w.numel() / w.size(1);
}

namespace {
void fill_with(Tensor& t, const std::function<double()>& draw) {
  std::vector<float> values(t.numel());
  for (float& v : values) v = static_cast<float>(draw());
  t.copy_(Tensor::from_vector(values, t.shape()));
}
}  // namespace

void uniform_(Tensor& t, float lo, float hi, Generator& gen) {
  fill_with(t, [&] { return gen.uniform(lo, hi); });
}

void normal_(Tensor& t, float mean, float std, Generator& gen) {
  fill_with(t, [&] { return mean + std * gen.normal(); });
}

void kaiming_normal_(Tensor& w, Generator& gen) {
  normal_(w, 0.0f, static_cast<float>(std::sqrt(2.0 / fan_in(w))), gen);
}

void kaiming_uniform_(Tensor& w, Generator& gen) {
  const float b = static_cast<float>(std::sqrt(6.0 / fan_in(w)));
  uniform_(w, -b, b, gen);
}

void xavier_uniform_(Tensor& w, Generator& gen) {
  const float b = static_cast<float>(std::sqrt(6.0 / (fan_in(w) + fan_out(w))));
  uniform_(w, -b, b, gen);
}

void xavier_normal_(Tensor& w, Generator& gen) {
  normal_(w, 0.0f, static_cast<float>(std::sqrt(2.0 / (fan_in(w) + fan_out(w)))), gen);
}

}  // namespace busi::init
