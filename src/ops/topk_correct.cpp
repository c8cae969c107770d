// Front end of topk_correct: checks and the output count.
#include "afinar/ops/topk_correct.h"

#include "afinar/ops/check_args.h"

namespace afinar {

namespace ops {
AFN_DEFINE_KERNEL(topk_correct, TopkCorrectFn)
}  // namespace ops

Tensor topk_correct(const Tensor& logits, const Tensor& target, int64_t k) {
  ops::check_floating(logits, "topk_correct", "logits", 2);
  AFN_CHECK(target.defined() && target.dtype() == DType::I64 && target.dim() == 1,
            "topk_correct: target must be a 1-D int64 tensor of class indices, got ",
            target.defined() ? detail::concat(target.dtype(), " of shape ", target.shape())
                             : std::string("an undefined tensor"));
  AFN_CHECK(target.size(0) == logits.size(0), "topk_correct: target has ", target.size(0),
            " rows but logits has ", logits.size(0), " (logits shape ", logits.shape(), ")");
  AFN_CHECK(target.device() == logits.device(), "topk_correct: target is on ", target.device(),
            " but logits on ", logits.device());
  const int64_t C = logits.size(1);
  AFN_CHECK(k >= 1 && k <= C, "topk_correct: k = ", k, " is out of range for ", C,
            " classes; expected 1 <= k <= ", C);
  Tensor count = empty({}, DType::I64, logits.device());
  ops::topk_correct_kernels().get(logits.device())(count, logits.contiguous(), target.contiguous(),
                                                   k);
  return count;
}

}  // namespace afinar
