// CPU reference of topk_correct: for each row, count the classes that rank above the target's
// logit (O(C), no sort) and compare with k.
#include "afinar/ops/topk_correct.h"
#include "afinar/ops/topk_rule.h"

namespace afinar::cpu {

namespace {

void topk_correct(const Tensor& count, const Tensor& logits, const Tensor& target, int64_t k) {
  const int64_t N = logits.size(0), C = logits.size(1);
  const int64_t* t = target.data<int64_t>();
  int64_t total = 0;
  visit_floating(logits.dtype(), "topk_correct", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = logits.data<T>();
#pragma omp parallel for reduction(+ : total) if (N * C > 65536)
    for (int64_t n = 0; n < N; ++n) {
      const int64_t tn = t[n];
      if (tn < 0 || tn >= C) continue;
      const T* row = x + n * C;
      int64_t above = 0;
      for (int64_t j = 0; j < C; ++j) above += topk_ranks_above(row[j], j, row[tn], tn) ? 1 : 0;
      total += above < k ? 1 : 0;
    }
  });
  count.data<int64_t>()[0] = total;
}

}  // namespace

AFN_REGISTER_KERNEL(topk_correct, CPU, topk_correct);

}  // namespace afinar::cpu
