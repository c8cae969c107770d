// amp_scale: the two device-side steps of dynamic loss scaling (optim/grad_scaler.h), as
// PyTorch's torch._amp_foreach_non_finite_check_and_unscale_ and torch._amp_update_scale_. The
// scale, the growth tracker and the inf flag live on the device, so a step reads nothing back
// until GradScaler::step decides whether to apply the optimizer.
//
// amp_unscale_ (one call per device and dtype, all of a group's gradients at once):
//   inv_scale = float(1 / double(scale))                (GradScaler's double reciprocal)
//   found_inf = 1 if any gradient value is inf or NaN (before scaling)
//   g = g · inv_scale                                   for every element of every gradient
// (PyTorch's op takes inv_scale; taking the scale saves a reciprocal kernel per step.)
// amp_update_scale_ (after each step):
//   found_inf:  scale = scale · backoff_factor,  growth_tracker = 0
//   otherwise:  growth_tracker += 1, and when it reaches growth_interval:
//               scale = scale · growth_factor (only if that is finite),  growth_tracker = 0
#pragma once

#include <vector>

#include "afinar/core/tensor.h"
#include "afinar/ops/dispatch.h"

namespace afinar::ops {

// grads: floating tensors of one device (any mix of float32 / float64 / bf16 / f16), each
// dense; found_inf and scale: one-element float32 tensors on that device. found_inf is only ever
// set to 1 (never cleared), so one flag can gather several calls.
void amp_unscale_(const std::vector<Tensor>& grads, const Tensor& found_inf, const Tensor& scale);
// scale: float32, growth_tracker: int32, found_inf: float32, each one element; one device.
void amp_update_scale_(const Tensor& scale, const Tensor& growth_tracker, const Tensor& found_inf,
                       double growth_factor, double backoff_factor, int64_t growth_interval);

// Backend kernels: arguments checked; the grads of one call share a dtype.
using AmpUnscaleFn = void(const std::vector<Tensor>& grads, const Tensor& found_inf,
                          const Tensor& scale);
using AmpUpdateScaleFn = void(const Tensor& scale, const Tensor& growth_tracker,
                              const Tensor& found_inf, double growth_factor, double backoff_factor,
                              int64_t growth_interval);
AFN_DECLARE_KERNEL(amp_unscale, AmpUnscaleFn);
AFN_DECLARE_KERNEL(amp_update_scale, AmpUpdateScaleFn);

}  // namespace afinar::ops
