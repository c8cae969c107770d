#include "afinar/ops/fill.h"

namespace afinar::ops {

AFN_DEFINE_KERNEL(fill, FillFn)
AFN_DEFINE_KERNEL(copy, CopyFn)
AFN_DEFINE_KERNEL(uniform, UniformFn)
AFN_DEFINE_KERNEL(normal, NormalFn)
AFN_DEFINE_KERNEL(transfer, TransferFn)

uint64_t random_blocks(int64_t numel, DType dtype) {
  const int64_t per_block =
      dtype == DType::F64 ? RandomValues<double>::kPerBlock : RandomValues<float>::kPerBlock;
  return uint64_t((numel + per_block - 1) / per_block);
}

}  // namespace afinar::ops
