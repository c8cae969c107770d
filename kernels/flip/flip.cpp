// CUDA registration of flip (kernel in flip.cu): the plan copied into a FlipGeometry, the launch
// picked by element size.
#include "flip/flip.h"

#include <cstdlib>

#include "afinar/ops/flip.h"
#include "runtime/context.h"

namespace afinar::cuda {

namespace {

FlipGeometry geometry_of(const ops::FlipPlan& plan) {
  const size_t nd = plan.sizes.size();
  AFN_CHECK(nd <= size_t(kFlipMaxDims), "flip: the CUDA kernel walks at most ", kFlipMaxDims,
            " dims after merging neighbours, this flip needs ", nd,
            "; flip in two calls, or make the input contiguous first");
  FlipGeometry g;
  g.ndim = int(nd);
  g.base = plan.base;
  int64_t top = plan.base;  // the largest offset: base plus every positive step's full run
  for (size_t d = 0; d < nd; ++d) {
    g.size[d] = plan.sizes[d];
    g.step[d] = plan.steps[d];
    if (plan.steps[d] > 0) top += (plan.sizes[d] - 1) * plan.steps[d];
  }
  g.extent = top + 1;
  return g;
}

template <typename Word>
void launch(const Tensor& y, const Tensor& x, const FlipGeometry& g, cudaStream_t stream) {
  launch_flip<Word>(static_cast<Word*>(y.raw_data_ptr()),
                    static_cast<const Word*>(x.raw_data_ptr()), g, y.numel(), stream);
}

void flip(const Tensor& y, const Tensor& x, const ops::FlipPlan& plan) {
  const int dev = x.device().index;
  DeviceGuard guard(dev);
  const FlipGeometry g = geometry_of(plan);
  const cudaStream_t stream = compute_stream(dev);
  switch (element_size(x.dtype())) {
    case 1:
      return launch<uint8_t>(y, x, g, stream);
    case 2:
      return launch<uint16_t>(y, x, g, stream);
    case 4:
      return launch<uint32_t>(y, x, g, stream);
    case 8:
      return launch<uint64_t>(y, x, g, stream);
    default:
      AFN_FAIL("flip: dtype ", x.dtype(), " has an element size the CUDA kernel does not move");
  }
}

}  // namespace

AFN_REGISTER_KERNEL(flip, CUDA, flip);

}  // namespace afinar::cuda
