// Backpropagation: runs the recorded Nodes in reverse topological order from the roots, sums the
// gradients that meet at a node, accumulates into leaves' .grad, and frees saved tensors as it
// goes (unless retain_graph). Nodes are only reached through non-null edges, so a frozen backbone
// costs nothing: backward stops where nothing upstream requires grad.
#pragma once

#include <vector>

#include "afinar/core/tensor.h"

namespace afinar {

// roots[i] receives upstream gradient grads[i] (same shape as roots[i]).
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
                  bool retain_graph);

}  // namespace afinar
