// Inverted dropout, as torch.nn.functional.dropout.
//
//   training, 0 < p < 1:  m_i ~ Bernoulli(1 - p)
//                         y_i = x_i · (m_i / (1-p))      dL/dx_i = g_i · m_i / (1-p)
//   p = 1:                y = x · 0 (NaN stays NaN, as PyTorch's x.mul(0)); dL/dx = 0
//   p = 0 or eval:        y = x itself (the same tensor, no mask drawn)
// Scaling the kept values by 1/(1-p) at training time keeps E[y] = x, so eval needs no rescaling.
//
// The mask comes from the counter-based Philox generator (include/afinar/core/rng.h): the op
// reserves ceil(numel/4) blocks with gen.draw_offset and element i uses 32-bit word i % 4 of block
// offset + i / 4. Element i is kept when its word, mapped to u ∈ (0, 1] by uint_to_unit_float, has
// u > p. The mask is therefore a pure function of (seed, offset, i): the same for any thread count
// or device and for f32 or f64 inputs. It is saved as uint8 for backward (1 byte per element).
#pragma once

#include <cstdint>

#include "afinar/core/rng.h"
#include "afinar/core/tensor.h"
#include "afinar/ops/dispatch.h"

namespace afinar {

// Differentiable in x. p outside [0, 1] is an error.
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true,
               Generator& gen = default_generator());

namespace ops {

struct DropoutForward {
  Tensor output;
  Tensor mask;  // uint8, x's shape: 1 where kept
};

// Throws unless 0 <= p <= 1 (NaN included), naming `op`.
void check_dropout_probability(double p, const char* op);

// The training-mode op for 0 < p <= 1 (dropout() handles p = 0 and eval).
DropoutForward dropout_forward(const Tensor& x, double p, Generator& gen);
Tensor dropout_backward(const Tensor& grad_output, const Tensor& mask, double p);

// Philox blocks one mask of `numel` elements consumes (4 elements per block).
uint64_t dropout_blocks(int64_t numel);

// Backend kernels: contiguous tensors, outputs preallocated. The forward draws the mask from
// blocks offset, offset + 1, ... of stream `seed` and writes y = x · (m / (1-p)) (0 when p = 1);
// the backward writes grad_input = grad_output · (m / (1-p)).
using DropoutForwardFn = void(const Tensor& y, const Tensor& mask, const Tensor& x, double p,
                              uint64_t seed, uint64_t offset);
using DropoutBackwardFn = void(const Tensor& grad_input, const Tensor& grad_output,
                               const Tensor& mask, double p);
AFN_DECLARE_KERNEL(dropout_forward, DropoutForwardFn);
AFN_DECLARE_KERNEL(dropout_backward, DropoutBackwardFn);

}  // namespace ops
}  // namespace afinar
