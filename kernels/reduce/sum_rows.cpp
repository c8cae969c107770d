// CUDA registration of the row sum behind sum / mean, with its teaching variants.
#include "reduce/sum_rows.h"

#include "afinar/ops/reduce.h"
#include "runtime/context.h"

namespace afinar::cuda {

namespace {
void sum_rows(const Tensor& out, const Tensor& x, ReduceAlgo algo) {
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  const cudaStream_t s = compute_stream(dev);
  const int64_t outer = x.size(0), inner = x.size(1);
  visit_floating(x.dtype(), "sum", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* o = out.data_ptr<T>();
    const T* in = x.data_ptr<T>();
    switch (algo) {
      case ReduceAlgo::Naive:
        launch_sum_rows_naive<T>(o, in, outer, inner, s);
        break;
      case ReduceAlgo::Default:
      case ReduceAlgo::WarpShuffle:
        launch_sum_rows_warp_shuffle<T>(o, in, outer, inner, s);
        break;
      case ReduceAlgo::Cub: {
        if (outer == 0) break;
        size_t bytes = 0;
        launch_sum_rows_cub<T>(o, in, outer, inner, nullptr, bytes, s);
        // Scratch from the caching allocator, freed (stream-ordered) when this scope ends.
        Tensor workspace = empty({int64_t(std::max<size_t>(bytes, 1))}, DType::U8, x.device());
        launch_sum_rows_cub<T>(o, in, outer, inner, workspace.raw_data_ptr(), bytes, s);
        break;
      }
    }
  });
}
}  // namespace

AFN_REGISTER_KERNEL(sum_rows, CUDA, sum_rows);

}  // namespace afinar::cuda
