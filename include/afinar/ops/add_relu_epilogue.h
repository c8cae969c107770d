// The epilogue an op can fuse after its own result y, so that "op -> add -> relu" is one pass over
// the data instead of three (ResNet's blocks: batch_norm2d_add_relu, and conv2d_add_relu once a
// batch norm is folded into the convolution):
//   y = relu(y + residual)     residual optional (y's shape, dtype and device), relu optional
// Rounded as the unfused ops are: y in the op's dtype first, then the add in that dtype, then relu
// (relu_rule.h), so a fused op is bit for bit the unfused ops. Backward: g' = relu'(g, y) (the
// mask of the fused output), dL/dresidual = g', and the op's own backward from g'.
#pragma once

#include "afinar/core/tensor.h"

namespace afinar::ops {

struct AddReluEpilogue {
  Tensor residual;  // undefined: nothing to add
  bool relu = false;

  bool empty() const { return !residual.defined() && !relu; }
};

// Checks that the residual, when given, has the input's dtype and device and the output's shape
// (the op's output has the input's dtype); errors name `op`.
void check_epilogue(const AddReluEpilogue& epilogue, const Tensor& input, const Shape& output_shape,
                    const char* op);

// The epilogue as separate ops on y (add, then relu): what a path that computes y in another dtype
// and rounds it runs after the rounding, so it matches the unfused ops.
Tensor apply_epilogue(const Tensor& y, const AddReluEpilogue& epilogue);

// The gradient that reaches the op itself and the residual: relu_backward(g, y) with the relu
// epilogue (`relu_output` is the fused op's output), else g.
Tensor epilogue_backward(const Tensor& grad_output, const Tensor& relu_output);

}  // namespace afinar::ops
