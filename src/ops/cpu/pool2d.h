// The CPU window loops shared by max_pool2d / avg_pool2d and the adaptive pools (the adaptive
// ones only choose other windows), so the max and average code exists once.
#pragma once

#include "afinar/ops/pool2d.h"

namespace afinar {

namespace cpu {
// y = max over the windows rows × cols of each plane, indices = its flat h·W + w (-1: empty).
void max_pool2d_windows(const Tensor& y, const Tensor& indices, const Tensor& x,
                        const ops::PoolWindows& rows, const ops::PoolWindows& cols, const char* op);
// grad_input = 0, then grad_input[plane][indices] += grad_output; throws on an index outside
// [-1, H·W) (-1: an empty window, no input to credit).
void max_pool2d_scatter(const Tensor& grad_input, const Tensor& grad_output, const Tensor& indices,
                        const char* op);
// y = window sum / D with avg_pool2d's divisor D (above) from the windows' padded / count.
void avg_pool2d_windows(const Tensor& y, const Tensor& x, const ops::PoolWindows& rows,
                        const ops::PoolWindows& cols, bool count_include_pad,
                        int64_t divisor_override, const char* op);
// grad_input = 0, then every window's elements += grad_output / D.
void avg_pool2d_windows_backward(const Tensor& grad_input, const Tensor& grad_output,
                                 const ops::PoolWindows& rows, const ops::PoolWindows& cols,
                                 bool count_include_pad, int64_t divisor_override, const char* op);
}  // namespace cpu

}  // namespace afinar
