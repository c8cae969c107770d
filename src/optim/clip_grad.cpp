#include "afinar/optim/clip_grad.h"

#include <algorithm>
#include <cmath>

#include "afinar/autograd/grad_mode.h"
#include "afinar/ops/elementwise.h"
#include "afinar/ops/reduce.h"

namespace afinar::optim {

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm,
                       bool error_if_nonfinite) {
  AFN_CHECK(std::isfinite(max_norm) && max_norm > 0,
            "clip_grad_norm_: max_norm must be > 0 and finite, got ", max_norm);
  NoGradGuard no_grad;
  // Σ_j g_ij² per gradient on its device, gathered in float64 on the first gradient's device.
  Tensor squares;
  for (const Tensor& p : params) {
    const Tensor& g = p.grad();
    if (!g.defined()) continue;
    const Tensor s = ops::sum(ops::mul(g, g), {}, false).to(DType::F64);
    squares = squares.defined() ? ops::add(squares, s.to(squares.device()), 1.0) : s;
  }
  if (!squares.defined()) return 0.0;
  const double total = std::sqrt(squares.item<double>());
  AFN_CHECK(!error_if_nonfinite || std::isfinite(total),
            "clip_grad_norm_: the total norm of order 2 of the gradients is non-finite (", total,
            "), so it cannot be clipped; lower the learning rate, or pass error_if_nonfinite = "
            "false to scale the gradients by it anyway");
  const double coef = std::min(max_norm / (total + 1e-6), 1.0);
  // min(coef, 1) = 1 leaves every gradient as it is (g · 1 = g): nothing to write. NaN is not
  // >= 1, so a NaN total still reaches the gradients, as in PyTorch.
  if (coef >= 1.0) return total;
  for (const Tensor& p : params) {
    Tensor g = p.grad();  // a handle on the gradient's storage: written in place, layout kept
    if (g.defined()) g.copy_(ops::mul_scalar(g, coef));
  }
  return total;
}

}  // namespace afinar::optim
