// CPU reference of argmax and topk on [outer, C, inner] blocks: one line of C elements (stride
// inner) per (outer, inner) pair. topk selects with std::partial_sort (O(C log k)), or
// std::nth_element (O(C)) when the caller does not need the k results sorted.
#include <algorithm>
#include <cmath>
#include <vector>

#include "afinar/ops/topk.h"

namespace afinar::cpu {

namespace {

// Calls fn(o, i) for every line of an [outer, C, inner] block, in parallel when it pays.
template <typename Fn>
void for_each_line(int64_t outer, int64_t C, int64_t inner, Fn&& fn) {
#pragma omp parallel for if (outer * C * inner > 65536)
  for (int64_t line = 0; line < outer * inner; ++line) fn(line / inner, line % inner);
}

// a ranks before b in topk(largest): NaN is greater than every number; among equal values (and
// among NaNs) the lower index first. For smallest the order of the values flips, not of ties.
template <typename T>
struct TopkOrder {
  bool largest;
  bool operator()(const std::pair<T, int64_t>& a, const std::pair<T, int64_t>& b) const {
    const bool an = std::isnan(a.first), bn = std::isnan(b.first);
    if (an != bn) return largest ? an : bn;
    if (!an && a.first != b.first) return largest ? a.first > b.first : a.first < b.first;
    return a.second < b.second;
  }
};

void argmax(const Tensor& indices, const Tensor& x) {
  visit_floating(x.dtype(), "argmax", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t outer = x.size(0), C = x.size(1), inner = x.size(2);
    const T* px = x.data<T>();
    int64_t* pi = indices.data<int64_t>();
    for_each_line(outer, C, inner, [&](int64_t o, int64_t i) {
      const T* line = px + o * C * inner + i;
      // The first maximum; the first NaN beats everything (PyTorch), so stop there.
      int64_t best = 0;
      for (int64_t c = 1; c < C && !std::isnan(line[best * inner]); ++c)
        if (std::isnan(line[c * inner]) || line[c * inner] > line[best * inner]) best = c;
      pi[o * inner + i] = best;
    });
  });
}

void topk_forward(const Tensor& values, const Tensor& indices, const Tensor& x, bool largest,
                  bool sorted) {
  visit_floating(x.dtype(), "topk", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t outer = x.size(0), C = x.size(1), inner = x.size(2), k = values.size(1);
    const T* px = x.data<T>();
    T* pv = values.data<T>();
    int64_t* pi = indices.data<int64_t>();
    for_each_line(outer, C, inner, [&](int64_t o, int64_t i) {
      std::vector<std::pair<T, int64_t>> line(static_cast<size_t>(C));
      for (int64_t c = 0; c < C; ++c) line[size_t(c)] = {px[(o * C + c) * inner + i], c};
      const TopkOrder<T> order{largest};
      if (sorted)
        std::partial_sort(line.begin(), line.begin() + k, line.end(), order);
      else if (k > 0 && k < C)
        std::nth_element(line.begin(), line.begin() + (k - 1), line.end(), order);
      for (int64_t r = 0; r < k; ++r) {
        pv[(o * k + r) * inner + i] = line[size_t(r)].first;
        pi[(o * k + r) * inner + i] = line[size_t(r)].second;
      }
    });
  });
}

void topk_backward(const Tensor& gi, const Tensor& gv, const Tensor& indices) {
  const int64_t outer = gi.size(0), C = gi.size(1), inner = gi.size(2), k = gv.size(1);
  const int64_t* pidx = indices.data<int64_t>();
  // The indices are data the front end cannot see: check them before scattering.
  for (int64_t j = 0; j < indices.numel(); ++j)
    AFN_CHECK(pidx[j] >= 0 && pidx[j] < C, "topk_backward: index ", pidx[j],
              " is out of range for a dim of size ", C);
  visit_floating(gi.dtype(), "topk_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pg = gv.data<T>();
    T* pi = gi.data<T>();
    std::fill(pi, pi + gi.numel(), T(0));
    for_each_line(outer, C, inner, [&](int64_t o, int64_t i) {
      for (int64_t r = 0; r < k; ++r) {
        const int64_t src = (o * k + r) * inner + i;
        pi[(o * C + pidx[src]) * inner + i] += pg[src];
      }
    });
  });
}

}  // namespace

AFN_REGISTER_KERNEL(argmax, CPU, argmax);
AFN_REGISTER_KERNEL(topk_forward, CPU, topk_forward);
AFN_REGISTER_KERNEL(topk_backward, CPU, topk_backward);

}  // namespace afinar::cpu
