// CUDA registrations of nll_loss / cross_entropy forward and backward (kernels in loss.cu).
// Target values are checked on the device and reported at the next synchronisation
// (runtime/deferred_check.h): a training step's loss waits for nothing.
#include "loss/loss.h"

#include "afinar/ops/loss.h"
#include "runtime/context.h"
#include "runtime/deferred_check.h"

namespace afinar::cuda {

namespace {

LossReduce to_reduce(Reduction r) {
  switch (r) {
    case Reduction::None:
      return LossReduce::None;
    case Reduction::Mean:
      return LossReduce::Mean;
    case Reduction::Sum:
      return LossReduce::Sum;
  }
  AFN_FAIL("loss: unknown reduction ", int(r));
}

template <typename T>
const T* weight_ptr(const CrossEntropyOptions& opt) {
  return opt.weight.defined() ? opt.weight.data_ptr<T>() : nullptr;
}

// Device scratch of `doubles` doubles, freed (stream-ordered) with `buffer`.
struct Scratch {
  Tensor buffer;
  double* doubles;
};

Scratch make_scratch(int64_t doubles, const Device& device) {
  Tensor buffer = empty({doubles}, DType::F64, device);
  return {buffer, buffer.data_ptr<double>()};
}

// The flag the op's kernels lower to the first row whose target is invalid, and the CPU
// reference's message for it (the row and its target value).
unsigned long long* target_flag(const Tensor& target, int64_t C, int64_t ignore_index,
                                const char* op) {
  const int dev = target.device().index;
  return deferred_flag(dev, [=](unsigned long long row) {
    const int64_t t = read_device_value(target.data_ptr<int64_t>() + row, compute_stream(dev));
    return detail::concat(op, ": target ", t, " (row ", row, ") is out of range for ", C,
                          " classes: expected 0..", C - 1, " or ignore_index ", ignore_index);
  });
}

void nll_loss_forward(const Tensor& loss, const Tensor& total_weight, const Tensor& log_probs,
                      const Tensor& target, const CrossEntropyOptions& opt) {
  const int dev = log_probs.device().index;
  DeviceGuard guard(dev);
  const cudaStream_t s = compute_stream(dev);
  const int64_t N = log_probs.size(0), C = log_probs.size(1);
  const Scratch scratch = make_scratch(loss_forward_scratch_doubles(N), log_probs.device());
  unsigned long long* flag = target_flag(target, C, opt.ignore_index, "nll_loss");
  visit_floating(log_probs.dtype(), "nll_loss", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_nll_loss_forward<T>(loss.data_ptr<T>(), total_weight.data_ptr<T>(),
                               log_probs.data_ptr<T>(), target.data_ptr<int64_t>(),
                               weight_ptr<T>(opt), N, C, opt.ignore_index, opt.label_smoothing,
                               to_reduce(opt.reduction), scratch.doubles, flag, s);
  });
  check_if_debugging(dev);
}

void nll_loss_backward(const Tensor& grad_input, const Tensor& grad_loss, const Tensor& target,
                       const Tensor& total_weight, const CrossEntropyOptions& opt) {
  const int dev = grad_input.device().index;
  DeviceGuard guard(dev);
  const cudaStream_t s = compute_stream(dev);
  const int64_t N = grad_input.size(0), C = grad_input.size(1);
  unsigned long long* flag = target_flag(target, C, opt.ignore_index, "nll_loss_backward");
  visit_floating(grad_input.dtype(), "nll_loss_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_nll_loss_backward<T>(grad_input.data_ptr<T>(), grad_loss.data_ptr<T>(),
                                target.data_ptr<int64_t>(), total_weight.data_ptr<T>(),
                                weight_ptr<T>(opt), N, C, opt.ignore_index, opt.label_smoothing,
                                to_reduce(opt.reduction), flag, s);
  });
  check_if_debugging(dev);
}

void cross_entropy_forward(const Tensor& loss, const Tensor& total_weight, const Tensor& log_probs,
                           const Tensor& logits, const Tensor& target,
                           const CrossEntropyOptions& opt) {
  const int dev = logits.device().index;
  DeviceGuard guard(dev);
  const cudaStream_t s = compute_stream(dev);
  const int64_t N = logits.size(0), C = logits.size(1);
  const Scratch scratch = make_scratch(loss_forward_scratch_doubles(N), logits.device());
  unsigned long long* flag = target_flag(target, C, opt.ignore_index, "cross_entropy");
  visit_floating(logits.dtype(), "cross_entropy", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_cross_entropy_forward<T>(
        loss.data_ptr<T>(), total_weight.data_ptr<T>(), log_probs.data_ptr<T>(),
        logits.data_ptr<T>(), target.data_ptr<int64_t>(), weight_ptr<T>(opt), N, C,
        opt.ignore_index, opt.label_smoothing, to_reduce(opt.reduction), scratch.doubles, flag, s);
  });
  check_if_debugging(dev);
}

void cross_entropy_backward(const Tensor& grad_logits, const Tensor& grad_loss,
                            const Tensor& log_probs, const Tensor& target,
                            const Tensor& total_weight, const CrossEntropyOptions& opt) {
  const int dev = log_probs.device().index;
  DeviceGuard guard(dev);
  const cudaStream_t s = compute_stream(dev);
  const int64_t N = log_probs.size(0), C = log_probs.size(1);
  const Scratch scratch = make_scratch(1, log_probs.device());  // Σ_c w_c
  unsigned long long* flag = target_flag(target, C, opt.ignore_index, "cross_entropy_backward");
  visit_floating(log_probs.dtype(), "cross_entropy_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_cross_entropy_backward<T>(
        grad_logits.data_ptr<T>(), grad_loss.data_ptr<T>(), log_probs.data_ptr<T>(),
        target.data_ptr<int64_t>(), total_weight.data_ptr<T>(), weight_ptr<T>(opt), N, C,
        opt.ignore_index, opt.label_smoothing, to_reduce(opt.reduction), scratch.doubles, flag, s);
  });
  check_if_debugging(dev);
}

}  // namespace

AFN_REGISTER_KERNEL(nll_loss_forward, CUDA, nll_loss_forward);
AFN_REGISTER_KERNEL(nll_loss_backward, CUDA, nll_loss_backward);
AFN_REGISTER_KERNEL(cross_entropy_forward, CUDA, cross_entropy_forward);
AFN_REGISTER_KERNEL(cross_entropy_backward, CUDA, cross_entropy_backward);

}  // namespace afinar::cuda
