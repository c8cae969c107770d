// Autograd rules of nll_loss and cross_entropy: gradients flow to the input only (target and
// class weights are constants, as in PyTorch). Math in include/afinar/ops/loss.h.
#include "afinar/ops/loss.h"

#include "afinar/autograd/autocast.h"
#include "afinar/autograd/node.h"

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
  ops::CrossEntropyForward out = ops::cross_entropy_forward(logits, target, opt);
  record<CrossEntropyBackward>(out.loss, {&logits}, [&](CrossEntropyBackward& n) {
    n.saved.save(target, out.total_weight, opt);
    n.log_probs = SavedTensor(out.log_probs);
  });
  return out.loss;
}

}  // namespace afinar
