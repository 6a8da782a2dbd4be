// CPU reference kernels for element-wise ops (see elementwise.h).
#include "kernels/cpu/elementwise.h"

#include <algorithm>

namespace busi::cpu {

template <typename T>
static T apply(BinaryOp op, T x, T y) {
  switch (op) {
    case BinaryOp::Add:
      return x + y;
    case BinaryOp::Sub:
      return x - y;
    case BinaryOp::Mul:
      return x * y;
  }
  return T(0);
}

template <typename T>
void binary_forward(BinaryOp op, const BroadcastShape& s, const T* a, const T* b, T* out) {
#pragma omp parallel for schedule(static) if (s.numel > 32768)
  for (int64_t i = 0; i < s.numel; ++i) {
    int64_t ia, ib;
    broadcast_offsets(s, i, ia, ib);
    out[i] = apply(op, a[ia], b[ib]);
  }
}

template <typename T>
void binary_backward(BinaryOp op, const BroadcastShape& s, const T* a, const T* b, const T* dy,
                     T* da, int64_t a_numel, T* db, int64_t b_numel) {
  if (da) std::fill(da, da + a_numel, T(0));
  if (db) std::fill(db, db + b_numel, T(0));
  const T sign_b = op == BinaryOp::Sub ? T(-1) : T(1);
  // Serial on purpose: with broadcasting, several output elements add into the same da[j]
  // and a parallel loop would race. The models' heavy ops have their own kernels.
  for (int64_t i = 0; i < s.numel; ++i) {
    int64_t ia, ib;
    broadcast_offsets(s, i, ia, ib);
    if (da) da[ia] += op == BinaryOp::Mul ? dy[i] * b[ib] : dy[i];
    if (db) db[ib] += op == BinaryOp::Mul ? dy[i] * a[ia] : sign_b * dy[i];
  }
}

template <typename T>
void scale_forward(const T* x, T s, T* y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i) y[i] = s * x[i];
}

template <typename T>
void add_scalar_forward(const T* x, T s, T* y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] + s;
}

template <typename T>
void relu_forward(const T* x, T* y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
}

template <typename T>
void relu_backward(const T* y, const T* dy, T* dx, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > T(0) ? dy[i] : T(0);
}

template <typename T>
T sum_all(const T* x, int64_t n) {
  double total = 0.0;
#pragma omp parallel for reduction(+ : total) schedule(static) if (n > 32768)
  for (int64_t i = 0; i < n; ++i) total += static_cast<double>(x[i]);
  return static_cast<T>(total);
}

#define BUSI_INSTANTIATE(T)                                                                       \
  template void binary_forward<T>(BinaryOp, const BroadcastShape&, const T*, const T*, T*);       \
  template void binary_backward<T>(BinaryOp, const BroadcastShape&, const T*, const T*, const T*, \
                                   T*, int64_t, T*, int64_t);                                     \
  template void scale_forward<T>(const T*, T, T*, int64_t);                                       \
  template void add_scalar_forward<T>(const T*, T, T*, int64_t);                                  \
  template void relu_forward<T>(const T*, T*, int64_t);                                           \
  template void relu_backward<T>(const T*, const T*, T*, int64_t);                                \
  template T sum_all<T>(const T*, int64_t);
BUSI_INSTANTIATE(float)
BUSI_INSTANTIATE(double)
#undef BUSI_INSTANTIATE

}  // namespace busi::cpu
