// Front end of nll_loss / cross_entropy: argument checks (every shape and dtype; target values are
// data and are checked by the kernels), allocation, dispatch. Math in include/afinar/ops/loss.h.
#include "afinar/ops/loss.h"

#include "afinar/ops/check_args.h"

namespace afinar::ops {

AFN_DEFINE_KERNEL(nll_loss_forward, NllLossForwardFn)
AFN_DEFINE_KERNEL(nll_loss_backward, NllLossBackwardFn)
AFN_DEFINE_KERNEL(cross_entropy_forward, CrossEntropyForwardFn)
AFN_DEFINE_KERNEL(cross_entropy_backward, CrossEntropyBackwardFn)

namespace {

// Checks input [N, C] (floating), that the target is defined and on its device, weight [C], ε and
// the reduction; returns the options with the weight made contiguous for the kernels.
CrossEntropyOptions check_input_and_options(const Tensor& input, const char* input_arg,
                                            const Tensor& target, const CrossEntropyOptions& opt,
                                            const char* op) {
  check_floating(input, op, input_arg);
  AFN_CHECK(input.dim() == 2, op, ": ", input_arg, " must be 2-D [N, C], got shape ", input.shape(),
            " (only [N, C] inputs are supported)");
  AFN_CHECK(target.defined(), op, ": target is undefined");
  AFN_CHECK(target.device() == input.device(), op, ": target is on ", target.device(), " but ",
            input_arg, " is on ", input.device());
  if (opt.weight.defined()) {
    check_same_dtype_device(opt.weight, input, op, "weight", input_arg);
    AFN_CHECK(opt.weight.dim() == 1 && opt.weight.size(0) == input.size(1), op,
              ": weight has shape ", opt.weight.shape(), " but ", input_arg, " has shape ",
              input.shape(), "; expected one weight per class: [", input.size(1), "]");
  }
  AFN_CHECK(opt.label_smoothing >= 0.0 && opt.label_smoothing <= 1.0, op,
            ": label_smoothing must be between 0.0 and 1.0, got ", opt.label_smoothing);
  AFN_CHECK(opt.reduction == Reduction::None || opt.reduction == Reduction::Mean ||
                opt.reduction == Reduction::Sum,
            op, ": unknown reduction ", int(opt.reduction));
  CrossEntropyOptions checked = opt;
  if (checked.weight.defined()) checked.weight = checked.weight.detach().contiguous();
  return checked;
}

// The above for class-index targets: target [N] int64.
CrossEntropyOptions check_loss_args(const Tensor& input, const char* input_arg,
                                    const Tensor& target, const CrossEntropyOptions& opt,
                                    const char* op) {
  const CrossEntropyOptions checked = check_input_and_options(input, input_arg, target, opt, op);
  AFN_CHECK(target.dtype() == DType::I64, op, ": target must hold int64 class indices, got ",
            target.dtype(),
            " (convert with .to(DType::I64); class probabilities need the input's shape)");
  AFN_CHECK(target.dim() == 1 && target.size(0) == input.size(0), op, ": target has shape ",
            target.shape(), " but ", input_arg, " has shape ", input.shape(), "; expected [",
            input.size(0), "]");
  return checked;
}

Shape loss_shape(int64_t n, Reduction reduction) {
  return reduction == Reduction::None ? Shape{n} : Shape{};
}

// The outputs of a forward: the loss and the 0-D total weight W.
LossForward allocate_loss(const Tensor& input, Reduction reduction) {
  return {empty(loss_shape(input.size(0), reduction), input.dtype(), input.device()),
          empty({}, input.dtype(), input.device())};
}

// Checks the upstream gradient and W of a backward against target [N].
void check_grad_loss(const Tensor& grad_loss, const Tensor& total_weight, const Tensor& target,
                     const CrossEntropyOptions& opt, const char* op) {
  AFN_CHECK(target.defined() && target.dim() == 1, op, ": target must be 1-D [N], got ",
            target.defined() ? shape_str(target.shape()) : "an undefined tensor");
  check_floating(grad_loss, op, "grad_loss");
  AFN_CHECK(grad_loss.shape() == loss_shape(target.size(0), opt.reduction), op,
            ": grad_loss has shape ", grad_loss.shape(), " but the loss has shape ",
            loss_shape(target.size(0), opt.reduction));
  check_same_dtype_device(total_weight, grad_loss, op, "total_weight", "grad_loss");
  AFN_CHECK(total_weight.dim() == 0, op, ": total_weight must be 0-D, got shape ",
            total_weight.shape());
}

}  // namespace

LossForward nll_loss_forward(const Tensor& log_probs, const Tensor& target,
                             const CrossEntropyOptions& opt) {
  const CrossEntropyOptions o = check_loss_args(log_probs, "log_probs", target, opt, "nll_loss");
  LossForward out = allocate_loss(log_probs, o.reduction);
  nll_loss_forward_kernels().get(log_probs.device())(
      out.loss, out.total_weight, log_probs.detach().contiguous(), target.contiguous(), o);
  return out;
}

Tensor nll_loss_backward(const Tensor& grad_loss, const Tensor& target, const Tensor& total_weight,
                         int64_t num_classes, const CrossEntropyOptions& opt) {
  check_grad_loss(grad_loss, total_weight, target, opt, "nll_loss_backward");
  AFN_CHECK(num_classes >= 0, "nll_loss_backward: num_classes must be >= 0, got ", num_classes);
  Tensor grad_input = empty({target.size(0), num_classes}, grad_loss.dtype(), grad_loss.device());
  // The forward's checks, with grad_input standing in for logp (same shape, dtype and device).
  const CrossEntropyOptions o =
      check_loss_args(grad_input, "grad_input", target, opt, "nll_loss_backward");
  nll_loss_backward_kernels().get(grad_loss.device())(grad_input, grad_loss.contiguous(),
                                                      target.contiguous(), total_weight, o);
  return grad_input;
}

CrossEntropyOptions check_probability_target(const Tensor& logits, const Tensor& target,
                                             const CrossEntropyOptions& opt) {
  const CrossEntropyOptions checked =
      check_input_and_options(logits, "logits", target, opt, "cross_entropy");
  AFN_CHECK(target.dtype() == logits.dtype(), "cross_entropy: probability targets must have the ",
            "logits' dtype ", logits.dtype(), ", got ", target.dtype(), " (convert with .to())");
  AFN_CHECK(target.shape() == logits.shape(), "cross_entropy: probability targets must have the ",
            "logits' shape ", logits.shape(), ", got ", target.shape(),
            " (class indices are int64 of shape [", logits.size(0), "])");
  AFN_CHECK(opt.ignore_index < 0, "cross_entropy: ignore_index = ", opt.ignore_index,
            " does not apply to probability targets (a row counts by its probabilities); leave "
            "it at its default");
  return checked;
}

CrossEntropyForward cross_entropy_forward(const Tensor& logits, const Tensor& target,
                                          const CrossEntropyOptions& opt) {
  const CrossEntropyOptions o = check_loss_args(logits, "logits", target, opt, "cross_entropy");
  LossForward out = allocate_loss(logits, o.reduction);
  Tensor log_probs = empty(logits.shape(), logits.dtype(), logits.device());
  cross_entropy_forward_kernels().get(logits.device())(
      out.loss, out.total_weight, log_probs, logits.detach().contiguous(), target.contiguous(), o);
  return {out.loss, out.total_weight, log_probs};
}

Tensor cross_entropy_backward(const Tensor& grad_loss, const Tensor& log_probs,
                              const Tensor& target, const Tensor& total_weight,
                              const CrossEntropyOptions& opt) {
  const CrossEntropyOptions o =
      check_loss_args(log_probs, "log_probs", target, opt, "cross_entropy_backward");
  check_grad_loss(grad_loss, total_weight, target, o, "cross_entropy_backward");
  check_same_dtype_device(grad_loss, log_probs, "cross_entropy_backward", "grad_loss", "log_probs");
  Tensor grad_logits = empty(log_probs.shape(), log_probs.dtype(), log_probs.device());
  cross_entropy_backward_kernels().get(log_probs.device())(grad_logits, grad_loss.contiguous(),
                                                           log_probs.detach().contiguous(),
                                                           target.contiguous(), total_weight, o);
  return grad_logits;
}

}  // namespace afinar::ops
