// CPU reference of nll_loss (with label smoothing) and cross_entropy = log_softmax + nll_loss.
// Rows are computed in parallel into double buffers and summed serially, so the result does not
// depend on the thread count. Math in include/afinar/ops/loss.h.
#include <limits>
#include <vector>

#include "afinar/ops/loss.h"
#include "afinar/ops/softmax.h"

namespace afinar::cpu {

namespace {

// Every target must be a class in [0, C) or ignore_index. Checked serially, before any loop reads
// w[t] or logp[i, t], so a bad label is an error naming it rather than an out-of-bounds read.
void check_targets(const Tensor& target, int64_t C, int64_t ignore_index, const char* op) {
  const int64_t* t = target.data<int64_t>();
  for (int64_t i = 0; i < target.numel(); ++i)
    AFN_CHECK(t[i] == ignore_index || (t[i] >= 0 && t[i] < C), op, ": target ", t[i], " (row ", i,
              ") is out of range for ", C, " classes: expected 0..", C - 1, " or ignore_index ",
              ignore_index);
}

// w_c, or 1 without class weights.
template <typename T>
double class_weight(const T* w, int64_t c) {
  return w ? double(w[c]) : 1.0;
}

template <typename T>
const T* weight_data(const CrossEntropyOptions& opt) {
  return opt.weight.defined() ? opt.weight.data<T>() : nullptr;
}

// Σ ℓ_i / W. PyTorch divides the two terms by W separately, (1-ε)·Σnll_i/W + ε/C·Σs_i/W: with
// W = 0 because every counted row's class weighs 0, the first is 0/0 = NaN, so the mean is NaN
// where Σ ℓ_i / W would be ±inf. (Negative class weights summing to 0 are the one case where
// PyTorch can give ±inf instead; the CUDA kernels follow the same rule as this reference.)
// Without smoothing Σ ℓ_i / W is PyTorch's own expression (0/0 = NaN when every row is ignored).
double mean_loss(double sum, double W, double eps) {
  return W == 0 && eps > 0 ? std::numeric_limits<double>::quiet_NaN() : sum / W;
}

// ℓ_i = (1-ε)·nll_i + ε·s_i/C and W = Σ m_i w[t_i], reduced into `loss` (targets checked).
void nll_forward_checked(const Tensor& loss, const Tensor& total_weight, const Tensor& log_probs,
                         const Tensor& target, const CrossEntropyOptions& opt) {
  visit_floating(log_probs.dtype(), "nll_loss", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t N = log_probs.size(0), C = log_probs.size(1);
    const T* lp = log_probs.data<T>();
    const int64_t* t = target.data<int64_t>();
    const T* w = weight_data<T>(opt);
    const double eps = opt.label_smoothing;
    std::vector<double> row_loss(size_t(N), 0.0), row_weight(size_t(N), 0.0);
#pragma omp parallel for if (N * C > 65536)
    for (int64_t i = 0; i < N; ++i) {
      if (t[i] == opt.ignore_index) continue;
      const T* row = lp + i * C;
      const double wt = class_weight(w, t[i]);
      double loss_i = -(1.0 - eps) * wt * double(row[t[i]]);
      // Without smoothing the term is skipped, not multiplied by 0: a logp of -inf in another
      // class must not turn the loss into NaN (PyTorch takes the plain NLL path for ε = 0).
      if (eps > 0) {
        double s = 0;
        for (int64_t c = 0; c < C; ++c) s -= class_weight(w, c) * double(row[c]);
        loss_i += eps * s / double(C);
      }
      row_loss[size_t(i)] = loss_i;
      row_weight[size_t(i)] = wt;
    }
    double sum = 0, W = 0;
    for (int64_t i = 0; i < N; ++i) {
      sum += row_loss[size_t(i)];
      W += row_weight[size_t(i)];
    }
    total_weight.data<T>()[0] = T(W);
    T* out = loss.data<T>();
    switch (opt.reduction) {
      case Reduction::None:
        for (int64_t i = 0; i < N; ++i) out[i] = T(row_loss[size_t(i)]);
        break;
      case Reduction::Sum:
        out[0] = T(sum);
        break;
      case Reduction::Mean:
        out[0] = T(mean_loss(sum, W, eps));
        break;
    }
  });
}

// dℓ/dlogp_{i,c} = -a_i·m_i·((1-ε)·w[t_i]·[c = t_i] + ε·w_c/C) (targets checked).
void nll_backward_checked(const Tensor& grad_input, const Tensor& grad_loss, const Tensor& target,
                          const Tensor& total_weight, const CrossEntropyOptions& opt) {
  visit_floating(grad_input.dtype(), "nll_loss_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t N = grad_input.size(0), C = grad_input.size(1);
    const T* g = grad_loss.data<T>();
    const int64_t* t = target.data<int64_t>();
    const T* w = weight_data<T>(opt);
    const double eps = opt.label_smoothing, W = double(total_weight.data<T>()[0]);
    T* gi = grad_input.data<T>();
#pragma omp parallel for if (N * C > 65536)
    for (int64_t i = 0; i < N; ++i) {
      T* row = gi + i * C;
      const bool ignored = t[i] == opt.ignore_index;
      const double a = opt.reduction == Reduction::None  ? double(g[i])
                       : opt.reduction == Reduction::Sum ? double(g[0])
                                                         : double(g[0]) / W;
      for (int64_t c = 0; c < C; ++c) {
        // Without smoothing only the target column has a term: the others are 0 exactly, not
        // -a·0 (NaN when a mean's total weight W is 0, where PyTorch's target column alone is).
        const bool has_term = !ignored && (c == t[i] || eps > 0);
        const double target_part = c == t[i] ? (1.0 - eps) * class_weight(w, c) : 0.0;
        const double smooth_part = eps > 0 ? eps * class_weight(w, c) / double(C) : 0.0;
        row[c] = has_term ? T(-a * (target_part + smooth_part)) : T(0);
      }
    }
  });
}

void nll_loss_forward(const Tensor& loss, const Tensor& total_weight, const Tensor& log_probs,
                      const Tensor& target, const CrossEntropyOptions& opt) {
  check_targets(target, log_probs.size(1), opt.ignore_index, "nll_loss");
  nll_forward_checked(loss, total_weight, log_probs, target, opt);
}

void nll_loss_backward(const Tensor& grad_input, const Tensor& grad_loss, const Tensor& target,
                       const Tensor& total_weight, const CrossEntropyOptions& opt) {
  check_targets(target, grad_input.size(1), opt.ignore_index, "nll_loss_backward");
  nll_backward_checked(grad_input, grad_loss, target, total_weight, opt);
}

// [N, C] as the [outer, C, inner] block the softmax kernels take.
Tensor as_softmax_block(const Tensor& t) {
  return t.reshape({t.size(0), t.size(1), 1});
}

// logp = log_softmax(logits, 1), then the NLL of logp. The log_softmax step is the CPU kernel
// itself (taken from its table), not a front end: no extra checks or allocation.
void cross_entropy_forward(const Tensor& loss, const Tensor& total_weight, const Tensor& log_probs,
                           const Tensor& logits, const Tensor& target,
                           const CrossEntropyOptions& opt) {
  check_targets(target, logits.size(1), opt.ignore_index, "cross_entropy");
  ops::log_softmax_forward_kernels().get(kCPU)(as_softmax_block(log_probs),
                                               as_softmax_block(logits));
  nll_forward_checked(loss, total_weight, log_probs, target, opt);
}

// dL/dlogp from the NLL rule, then back through log_softmax.
void cross_entropy_backward(const Tensor& grad_logits, const Tensor& grad_loss,
                            const Tensor& log_probs, const Tensor& target,
                            const Tensor& total_weight, const CrossEntropyOptions& opt) {
  check_targets(target, log_probs.size(1), opt.ignore_index, "cross_entropy_backward");
  Tensor grad_log_probs = empty(log_probs.shape(), log_probs.dtype(), kCPU);
  nll_backward_checked(grad_log_probs, grad_loss, target, total_weight, opt);
  ops::log_softmax_backward_kernels().get(kCPU)(
      as_softmax_block(grad_logits), as_softmax_block(grad_log_probs), as_softmax_block(log_probs));
}

}  // namespace

AFN_REGISTER_KERNEL(nll_loss_forward, CPU, nll_loss_forward);
AFN_REGISTER_KERNEL(nll_loss_backward, CPU, nll_loss_backward);
AFN_REGISTER_KERNEL(cross_entropy_forward, CPU, cross_entropy_forward);
AFN_REGISTER_KERNEL(cross_entropy_backward, CPU, cross_entropy_backward);

}  // namespace afinar::cpu
