// The backward pass (Kahn's algorithm over the recorded graph):
//   1. walk every node reachable from the roots and count, per node, the edges that point at it;
//   2. start from the roots with their upstream gradients; a node runs once all its consumers
//      have delivered (its count reaches zero), so gradients meeting at a node are summed first;
//   3. after a node runs, its saved tensors are freed unless retain_graph.
#include "afinar/autograd/engine.h"

#include <algorithm>
#include <unordered_map>

#include "afinar/autograd/anomaly_mode.h"
#include "afinar/autograd/grad_mode.h"
#include "afinar/autograd/node.h"
#include "afinar/ops/elementwise.h"

namespace afinar {

namespace {

// Adds g into slot (first arrival is kept as is; later ones summed out of place so a gradient an
// op returned is never mutated).
void accumulate(Tensor& slot, const Tensor& g) {
  if (!g.defined()) return;
  slot = slot.defined() ? ops::add(slot, g, 1.0) : g;
}

// Anomaly mode (autograd/anomaly_mode.h): the first non-finite gradient a function returns.
void check_finite(const Node& node, const std::vector<Tensor>& grads) {
  for (size_t i = 0; i < grads.size(); ++i) {
    const std::string bad = first_non_finite(grads[i]);
    AFN_CHECK(bad.empty(), "anomaly detected: ", node.name(), " returned ", bad, " values in its ",
              i, "th output (the gradient of its forward op's input ", i,
              "); the forward op or its inputs produced the first non-finite value");
  }
}

}  // namespace

void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
                  bool retain_graph) {
  AFN_CHECK(roots.size() == grads.size(), "backward: ", roots.size(), " outputs but ", grads.size(),
            " gradients");
  NoGradGuard no_grad;  // backward itself is not recorded (no higher-order gradients)

  // 1. dependency counts
  std::unordered_map<Node*, int> deps;
  std::vector<Node*> stack;
  for (const Tensor& r : roots) {
    Edge e = gradient_edge(r);
    if (e.fn && !deps.count(e.fn.get())) {
      deps[e.fn.get()] = 0;
      stack.push_back(e.fn.get());
    }
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges) {
      if (!e.fn) continue;
      auto [it, inserted] = deps.try_emplace(e.fn.get(), 0);
      ++it->second;
      if (inserted) stack.push_back(e.fn.get());
    }
  }

  // 2. run nodes whose consumers have all delivered
  std::unordered_map<Node*, std::vector<Tensor>> inputs;  // gradients of each node's outputs
  std::vector<std::shared_ptr<Node>> ready;
  for (size_t i = 0; i < roots.size(); ++i) {
    Edge e = gradient_edge(roots[i]);
    if (!e.fn) continue;
    auto& buf = inputs[e.fn.get()];
    buf.resize(e.fn->num_outputs);
    accumulate(buf[e.input_nr], grads[i]);
    if (deps[e.fn.get()] == 0 && std::find(ready.begin(), ready.end(), e.fn) == ready.end())
      ready.push_back(e.fn);
  }
  while (!ready.empty()) {
    std::shared_ptr<Node> node = std::move(ready.back());
    ready.pop_back();
    std::vector<Tensor> out_grads = std::move(inputs[node.get()]);
    inputs.erase(node.get());
    out_grads.resize(node->num_outputs);
    // A node reached by no gradient at all (every output's gradient undefined) is skipped.
    const bool any = std::any_of(out_grads.begin(), out_grads.end(),
                                 [](const Tensor& g) { return g.defined(); });
    std::vector<Tensor> in_grads = any ? node->apply(std::move(out_grads)) : std::vector<Tensor>{};
    if (AnomalyMode::is_enabled()) check_finite(*node, in_grads);
    if (!retain_graph) node->release_saved();
    for (size_t i = 0; i < node->next_edges.size(); ++i) {
      const Edge& e = node->next_edges[i];
      if (!e.fn) continue;
      if (i < in_grads.size() && in_grads[i].defined()) {
        auto& buf = inputs[e.fn.get()];
        buf.resize(e.fn->num_outputs);
        accumulate(buf[e.input_nr], in_grads[i]);
      }
      if (--deps[e.fn.get()] == 0) ready.push_back(e.fn);
    }
  }
}

}  // namespace afinar
