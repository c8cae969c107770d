// Gradient clipping by the global norm, as torch.nn.utils.clip_grad_norm_ with norm_type 2 (and
// timm's --clip-grad with --clip-mode norm):
//
//   total = ‖(‖g_1‖₂, …, ‖g_n‖₂)‖₂ = sqrt(Σ_i Σ_j g_ij²)   over the parameters that have a gradient
//   coef  = max_norm / (total + 1e-6)
//   g_i  ← g_i · min(coef, 1)                             in place, every gradient
//
// A NaN or infinite total scales every gradient by NaN or 0, as in PyTorch (a GradScaler step
// skips such a step anyway); error_if_nonfinite turns it into an error instead. The sums run on
// the gradients' device; the total is read back once, the one host synchronisation of a clipped
// step (PyTorch multiplies by the clamped coefficient on the device instead).
//
//   loss.backward();
//   double norm = optim::clip_grad_norm_(optim::params_with_grad(opt), 1.0);
//   opt.step();
#pragma once

#include <vector>

#include "afinar/core/tensor.h"
#include "afinar/optim/optimizer.h"  // params_with_grad

namespace afinar::optim {

// Clips as above and returns the total norm before clipping (0 with no gradients). max_norm must
// be > 0 and finite. Parameters without a gradient are skipped.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm,
                       bool error_if_nonfinite = false);

}  // namespace afinar::optim
