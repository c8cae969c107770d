// The autograd tape. Every differentiable op that sees an input requiring grad (with grad mode on)
// records a Node: what it saved for backward plus one Edge per input, pointing at the Node that
// produced that input (or at the leaf's gradient accumulator; a null edge when the input needs no
// gradient). The engine (engine.h) walks the Nodes from the loss back to the leaves.
//
// Writing an op's rule (see src/autograd/functions/ for every op):
//   struct ReluBackward : Node {
//     SavedTensor out;
//     const char* name() const override { return "ReluBackward"; }
//     std::vector<Tensor> apply(std::vector<Tensor>&& g) override {
//       return {ops::relu_backward(g[0], out.get())};
//     }
//     void release_saved() override { out.release(); }
//   };
#pragma once

#include <memory>
#include <vector>

#include "afinar/core/tensor.h"

namespace afinar {

struct Edge {
  std::shared_ptr<Node> fn;  // null: this input needs no gradient
  uint32_t input_nr = 0;     // which output of fn the gradient belongs to
};

class Node {
 public:
  virtual ~Node() = default;
  virtual const char* name() const = 0;
  // Gradients of the outputs (undefined where none flowed) -> gradients of the inputs, one per
  // edge (undefined where needs_input_grad(i) is false: skip that work entirely).
  virtual std::vector<Tensor> apply(std::vector<Tensor>&& grad_outputs) = 0;
  // Frees what the node saved for backward; called by the engine after apply() unless the graph
  // is retained.
  virtual void release_saved() {}

  bool needs_input_grad(size_t i) const { return i < next_edges.size() && next_edges[i].fn; }

  std::vector<Edge> next_edges;
  uint32_t num_outputs = 1;
};

// A tensor kept for backward. It holds a detached handle (same storage, no history), so a node
// saving its own output makes no reference cycle. Using it after release() is the classic
// "backward through the graph a second time" error.
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t) : t_(t.defined() ? t.detach() : Tensor()), saved_(true) {}
  const Tensor& get() const;
  void release() {
    if (saved_) released_ = true;
    t_ = Tensor();
  }

 private:
  Tensor t_;
  bool saved_ = false;
  bool released_ = false;
};

// Accumulates incoming gradients into a leaf's .grad (the end of every backward path).
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(const std::shared_ptr<TensorImpl>& leaf) : leaf_(leaf) {}
  const char* name() const override { return "AccumulateGrad"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& grad_outputs) override;

 private:
  std::weak_ptr<TensorImpl> leaf_;
};

// ---- helpers for op rules ------------------------------------------------------------------

// True when grad mode is on and any of the inputs requires grad: only then is a node recorded.
bool compute_requires_grad(std::initializer_list<const Tensor*> inputs);
// The edge a gradient for `t` flows along (to its grad_fn, its leaf accumulator, or nowhere).
Edge gradient_edge(const Tensor& t);
// Makes node's edges from its inputs (in the order apply() returns their gradients).
void collect_next_edges(Node& node, std::initializer_list<const Tensor*> inputs);
// Marks `out` as output `output_nr` of `node`: requires_grad, grad_fn set.
void set_history(Tensor& out, const std::shared_ptr<Node>& node, uint32_t output_nr = 0);

// The common case in one call: when compute_requires_grad(inputs), make a NodeT, connect its
// edges, hand it to `save` to store what backward needs, and attach it to `out`.
template <typename NodeT, typename SaveFn>
void record(Tensor& out, std::initializer_list<const Tensor*> inputs, SaveFn&& save) {
  if (!compute_requires_grad(inputs)) return;
  auto node = std::make_shared<NodeT>();
  collect_next_edges(*node, inputs);
  save(*node);
  set_history(out, node);
}

}  // namespace afinar
