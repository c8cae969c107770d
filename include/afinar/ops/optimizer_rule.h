// The per-element update rules of SGD, Adam/AdamW and RMSprop, written once for the CPU reference
// and the CUDA multi-tensor kernels (host/device, no C++20), in PyTorch's order of operations
// (torch.optim, single-tensor path of 1.13), so both devices and PyTorch agree to rounding.
//
// SGD (lr, momentum μ, dampening τ, weight_decay λ, nesterov, maximize):
//   d = ±g + λp;   b = d on the first step, else μb + (1-τ)d;   d = nesterov ? d + μb : b
//   p = p - lr·d                                     (momentum 0: no buffer, d used as is)
// Adam (lr, β1, β2, ε, λ, amsgrad; step t counted per parameter):
//   g = ±g + λp (Adam)  or  p = p(1 - lr·λ) first (AdamW, decoupled)
//   m = β1·m + (1-β1)g;   v = β2·v + (1-β2)g²;   v̂ = amsgrad ? (vmax = max(vmax, v)) : v
//   p = p - (lr / (1-β1^t)) · m / (√v̂ / √(1-β2^t) + ε)
// RMSprop (lr, α, ε, λ, momentum μ, centered, maximize):
//   g = ±g + λp;   s = α·s + (1-α)g²;   centered: a = α·a + (1-α)g, r = √(s - a²) + ε, else
//   r = √s + ε;   μ > 0: b = μ·b + g/r, p = p - lr·b;   else p = p - lr·(g/r)
#pragma once

#include <cmath>
#include <cstdint>

#include "afinar/core/philox.h"  // AFN_HOST_DEVICE

namespace afinar {

struct SgdHyper {
  double lr = 0, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false, maximize = false;
};

// Adam's scalars for one step t of a group: the bias corrections are folded in on the host.
struct AdamHyper {
  double lr = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool amsgrad = false, decoupled = false, maximize = false;
  double step_size = 0;   // lr / (1 - β1^t)
  double bias2_sqrt = 1;  // √(1 - β2^t)
};

struct RmspropHyper {
  double lr = 0, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0;
  bool centered = false, maximize = false;
};

// `buf` is null when momentum is 0; `init` marks the parameter's first step with momentum.
template <typename T>
AFN_HOST_DEVICE void sgd_update_element(T& p, T g, T* buf, bool init, const SgdHyper& h) {
  T d = h.maximize ? -g : g;
  if (h.weight_decay != 0) d = d + T(h.weight_decay) * p;
  if (buf) {
    *buf = init ? d : *buf * T(h.momentum) + T(1 - h.dampening) * d;
    d = h.nesterov ? d + T(h.momentum) * *buf : *buf;
  }
  p = p - T(h.lr) * d;
}

// `vmax` is null unless amsgrad.
template <typename T>
AFN_HOST_DEVICE void adam_update_element(T& p, T g, T& m, T& v, T* vmax, const AdamHyper& h) {
  if (h.maximize) g = -g;
  if (h.decoupled)
    p = p * T(1 - h.lr * h.weight_decay);
  else if (h.weight_decay != 0)
    g = g + T(h.weight_decay) * p;
  m = m * T(h.beta1) + g * T(1 - h.beta1);
  v = v * T(h.beta2) + T(1 - h.beta2) * g * g;
  T vhat = v;
  if (vmax) {
    if (v > *vmax) *vmax = v;
    vhat = *vmax;
  }
#ifdef __CUDA_ARCH__
  const T root = sqrt(vhat);
#else
  const T root = std::sqrt(vhat);
#endif
  const T denom = root / T(h.bias2_sqrt) + T(h.eps);
  p = p + T(-h.step_size) * m / denom;
}

// `grad_avg` is null unless centered, `buf` null when momentum is 0.
template <typename T>
AFN_HOST_DEVICE void rmsprop_update_element(T& p, T g, T& square_avg, T* grad_avg, T* buf,
                                            const RmspropHyper& h) {
  if (h.maximize) g = -g;
  if (h.weight_decay != 0) g = g + T(h.weight_decay) * p;
  square_avg = square_avg * T(h.alpha) + T(1 - h.alpha) * g * g;
  T variance = square_avg;
  if (grad_avg) {
    *grad_avg = *grad_avg * T(h.alpha) + T(1 - h.alpha) * g;
    variance = variance - *grad_avg * *grad_avg;
  }
#ifdef __CUDA_ARCH__
  const T rms = sqrt(variance) + T(h.eps);
#else
  const T rms = std::sqrt(variance) + T(h.eps);
#endif
  if (buf) {
    *buf = *buf * T(h.momentum) + g / rms;
    p = p + T(-h.lr) * *buf;
  } else {
    p = p + T(-h.lr) * (g / rms);
  }
}

}  // namespace afinar
