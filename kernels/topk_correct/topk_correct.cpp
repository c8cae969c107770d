// CUDA registration of topk_correct (kernel in topk_correct.cu).
#include "topk_correct/topk_correct.h"

#include "afinar/ops/topk_correct.h"
#include "runtime/context.h"
#include "runtime/cuda_check.h"

namespace afinar::cuda {

namespace {

void topk_correct(const Tensor& count, const Tensor& logits, const Tensor& target, int64_t k) {
  const int dev = logits.device().index;
  DeviceGuard guard(dev);
  AFN_CUDA_CHECK(
      cudaMemsetAsync(count.data_ptr<int64_t>(), 0, sizeof(int64_t), compute_stream(dev)));
  visit_floating(logits.dtype(), "topk_correct", [&](auto tag) {
    using T = typename decltype(tag)::type;
    launch_topk_correct<T>(count.data_ptr<int64_t>(), logits.data_ptr<T>(),
                           target.data_ptr<int64_t>(), logits.size(0), logits.size(1), k,
                           compute_stream(dev));
  });
}

}  // namespace

AFN_REGISTER_KERNEL(topk_correct, CUDA, topk_correct);

}  // namespace afinar::cuda
