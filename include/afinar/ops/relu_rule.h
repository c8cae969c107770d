// relu's per-element rule, shared by the CPU reference and the CUDA kernels (host/device, no
// C++20), and by every op that fuses a relu (batch_norm2d_add_relu), so all of them treat the
// edge values exactly as torch.relu does:
//   forward   y = x < 0 ? 0 : x      NaN stays NaN, -0.0 stays -0.0 (torch.relu(-0.) is -0.)
//   backward  dL/dx = y <= 0 ? 0 : g   0 at y = 0, passed through where y is NaN
//                                       (PyTorch's threshold_backward)
#pragma once

#include "afinar/core/philox.h"  // AFN_HOST_DEVICE

namespace afinar {

template <typename T>
AFN_HOST_DEVICE T relu_value(T x) {
  return x < T(0) ? T(0) : x;
}

template <typename T>
AFN_HOST_DEVICE T relu_grad(T g, T y) {
  return y <= T(0) ? T(0) : g;
}

}  // namespace afinar
