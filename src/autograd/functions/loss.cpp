// Autograd rules of nll_loss and cross_entropy: with class-index targets gradients flow to the
// input only (target and class weights are constants, as in PyTorch); cross_entropy with
// probability targets is composed of differentiable ops. Math in include/afinar/ops/loss.h.
#include "afinar/ops/loss.h"

#include <limits>

#include "afinar/autograd/autocast.h"
#include "afinar/autograd/node.h"
#include "afinar/ops/elementwise.h"
#include "afinar/ops/reduce.h"
#include "afinar/ops/softmax.h"

namespace afinar {

namespace {

// What both rules keep: the target, W and the options (whose weight tensor is saved too).
struct LossSaved {
  SavedTensor target, total_weight;
  CrossEntropyOptions opt;
  void save(const Tensor& t, const Tensor& w_total, const CrossEntropyOptions& o) {
    target = SavedTensor(t);
    total_weight = SavedTensor(w_total);
    opt = o;
  }
  void release() {
    target.release();
    total_weight.release();
    opt.weight = Tensor();
  }
};

struct NllLossBackward : Node {
  LossSaved saved;
  int64_t num_classes = 0;
  const char* name() const override { return "NllLossBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    return {ops::nll_loss_backward(g[0], saved.target.get(), saved.total_weight.get(), num_classes,
                                   saved.opt)};
  }
  void release_saved() override { saved.release(); }
};

struct CrossEntropyBackward : Node {
  LossSaved saved;
  SavedTensor log_probs;
  const char* name() const override { return "CrossEntropyBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
    return {ops::cross_entropy_backward(g[0], log_probs.get(), saved.target.get(),
                                        saved.total_weight.get(), saved.opt)};
  }
  void release_saved() override {
    saved.release();
    log_probs.release();
  }
};

// ℓ_i = -Σ_c w_c·y'_{i,c}·logp_{i,c} with y' = (1-ε)·y + ε/C, reduced; the products in
// PyTorch's order (logp·y', then ·w).
Tensor cross_entropy_probabilities(const Tensor& logits, const Tensor& target,
                                   const CrossEntropyOptions& opt) {
  const int64_t N = logits.size(0), C = logits.size(1);
  const double eps = opt.label_smoothing;
  const Tensor y = eps > 0 ? target * (1.0 - eps) + eps / double(C) : target;
  Tensor terms = log_softmax(logits, 1) * y;
  if (opt.weight.defined()) terms = terms * opt.weight.reshape({1, C}).expand({N, C});
  switch (opt.reduction) {
    case Reduction::None:
      return -sum(terms, {1});
    case Reduction::Sum:
      return -sum(terms);
    case Reduction::Mean:
      break;
  }
  // PyTorch divides by N = numel / C; N = 0 gives 0/0 = NaN.
  return N == 0 ? -sum(terms) * std::numeric_limits<double>::quiet_NaN()
                : -sum(terms) * (1.0 / double(N));
}

}  // namespace

Tensor nll_loss(const Tensor& log_probs_in, const Tensor& target, const NllLossOptions& opt) {
  const Tensor log_probs = autocast::to_float(log_probs_in);  // autocast's float32 list
  const CrossEntropyOptions o{.weight = opt.weight,
                              .ignore_index = opt.ignore_index,
                              .reduction = opt.reduction,
                              .label_smoothing = 0.0};
  ops::LossForward out = ops::nll_loss_forward(log_probs, target, o);
  record<NllLossBackward>(out.loss, {&log_probs}, [&](NllLossBackward& n) {
    n.saved.save(target, out.total_weight, o);
    n.num_classes = log_probs.size(1);
  });
  return out.loss;
}

Tensor cross_entropy(const Tensor& logits_in, const Tensor& target,
                     const CrossEntropyOptions& opt) {
  const Tensor logits = autocast::to_float(logits_in);  // autocast's float32 list
  if (target.defined() && is_floating(target.dtype())) {
    const Tensor probabilities = autocast::to_float(target);
    return cross_entropy_probabilities(logits, probabilities,
                                       ops::check_probability_target(logits, probabilities, opt));
  }
  ops::CrossEntropyForward out = ops::cross_entropy_forward(logits, target, opt);
  record<CrossEntropyBackward>(out.loss, {&logits}, [&](CrossEntropyBackward& n) {
    n.saved.save(target, out.total_weight, opt);
    n.log_probs = SavedTensor(out.log_probs);
  });
  return out.loss;
}

}  // namespace afinar
