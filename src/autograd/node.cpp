#include "afinar/autograd/node.h"

#include "afinar/autograd/grad_mode.h"
#include "afinar/ops/elementwise.h"

namespace afinar {

const Tensor& SavedTensor::get() const {
  AFN_CHECK(!released_,
            "Trying to backward through the graph a second time (or to use saved tensors after "
            "they were freed). Saved tensors are freed by the first backward; call "
            "backward(grad, /*retain_graph=*/true) the first time if you need a second pass.");
  return t_;
}

std::vector<Tensor> AccumulateGrad::apply(std::vector<Tensor>&& grads) {
  auto leaf_impl = leaf_.lock();
  if (!leaf_impl || !grads[0].defined()) return {};
  Tensor leaf(leaf_impl);
  const Tensor& g = grads[0];
  AFN_CHECK(g.shape() == leaf.shape(), "AccumulateGrad: gradient shape ", g.shape(),
            " differs from the parameter's ", leaf.shape());
  Tensor& acc = leaf.mutable_grad();
  NoGradGuard no_grad;
  if (!acc.defined()) {
    // The first gradient becomes .grad. Later accumulation writes into it in place, so it must
    // not share storage with anything: a fresh contiguous gradient that only the engine holds is
    // kept as is (PyTorch steals it too; for a 25088x4096 weight that saves a 411 MB copy);
    // anything shared (the same gradient sent along two edges, a view of a saved tensor) is
    // copied. The gradient takes the parameter's memory format (PyTorch's gradient layout
    // contract), so that optimizers can run over parameter and gradient as flat arrays.
    const MemoryFormat fmt = suggest_memory_format(leaf);
    const bool sole_owner = g.impl_ptr().use_count() == 1 && g.impl()->storage.use_count() == 1;
    if (sole_owner && g.is_contiguous(fmt)) {
      acc = g.detach();
    } else {
      Tensor c = g.contiguous(fmt);
      acc = c.is_same(g) ? g.clone() : c;
    }
  } else {
    ops::add_(acc, g, 1.0);
  }
  return {};
}

bool compute_requires_grad(std::initializer_list<const Tensor*> inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

Edge gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return {};
  TensorImpl* impl = t.impl();
  if (impl->autograd.grad_fn) return {impl->autograd.grad_fn, impl->autograd.output_nr};
  auto& acc = impl->autograd.grad_accumulator;
  if (!acc) acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
  return {acc, 0};
}

void collect_next_edges(Node& node, std::initializer_list<const Tensor*> inputs) {
  node.next_edges.clear();
  for (const Tensor* t : inputs) node.next_edges.push_back(t ? gradient_edge(*t) : Edge{});
}

void set_history(Tensor& out, const std::shared_ptr<Node>& node, uint32_t output_nr) {
  auto& meta = out.impl()->autograd;
  meta.requires_grad = true;
  meta.grad_fn = node;
  meta.output_nr = output_nr;
}

}  // namespace afinar
