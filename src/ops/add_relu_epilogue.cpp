// The add + relu epilogue shared by the fused ops (math in include/afinar/ops/add_relu_epilogue.h).
#include "afinar/ops/add_relu_epilogue.h"

#include "afinar/ops/activation.h"
#include "afinar/ops/check_args.h"
#include "afinar/ops/elementwise.h"

namespace afinar::ops {

void check_epilogue(const AddReluEpilogue& epilogue, const Tensor& input, const Shape& output_shape,
                    const char* op) {
  if (!epilogue.residual.defined()) return;
  check_same_dtype_device(epilogue.residual, input, op, "residual", "input");
  AFN_CHECK(epilogue.residual.shape() == output_shape, op, ": residual has shape ",
            epilogue.residual.shape(), " but the output has shape ", output_shape,
            " (afinar never broadcasts silently)");
}

Tensor apply_epilogue(const Tensor& y, const AddReluEpilogue& epilogue) {
  Tensor out = y;
  if (epilogue.residual.defined()) out = ops::add(out, epilogue.residual, 1.0);
  if (epilogue.relu) out = relu_forward(out);
  return out;
}

Tensor epilogue_backward(const Tensor& grad_output, const Tensor& relu_output) {
  return relu_output.defined() ? relu_backward(grad_output, relu_output) : grad_output;
}

}  // namespace afinar::ops
