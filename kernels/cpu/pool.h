// CPU reference kernels for pooling: max, average and global average, forward and backward.
#pragma once

#include <cstdint>

#include "kernels/common/shapes.h"

namespace busi::cpu {

// y = max over the window (padding never wins: it counts as -infinity).
template <typename T>
void max_pool2d_forward(const Pool2dShape& s, const T* x, T* y);
// dx[argmax of each window] = sum of the dy of the windows whose argmax it is (0 elsewhere); argmax
// is the FIRST maximum in row-major window order (recomputed from x, so no index tensor is stored;
// CUDA uses the same rule). dx is overwritten, never accumulated into.
template <typename T>
void max_pool2d_backward(const Pool2dShape& s, const T* x, const T* dy, T* dx);

// y = mean over the real (non-padding) elements of the window.
template <typename T>
void avg_pool2d_forward(const Pool2dShape& s, const T* x, T* y);
// dx[h,w] = sum over windows containing (h,w) of dy / (real elements in that window).
template <typename T>
void avg_pool2d_backward(const Pool2dShape& s, const T* dy, T* dx);

// y[n,c] = mean over HW of x[n,c,:]; dx[n,c,:] = dy[n,c] / HW.
template <typename T>
void global_avg_pool2d_forward(int64_t N, int64_t C, int64_t HW, const T* x, T* y);
template <typename T>
void global_avg_pool2d_backward(int64_t N, int64_t C, int64_t HW, const T* dy, T* dx);

}  // namespace busi::cpu
