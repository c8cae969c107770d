// The C++ element types of the CUDA backend: afinar's CPU types plus __half and __nv_bfloat16.
// For the .cpp wrappers that turn Tensors into kernel launches.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "afinar/core/dtype.h"

namespace afinar::cuda {

// Calls fn(TypeTag<T>{}) for every dtype the CUDA backend stores.
template <typename Fn>
decltype(auto) visit_dtype(DType t, const char* op, Fn&& fn) {
  switch (t) {
    case DType::F32:
      return fn(TypeTag<float>{});
    case DType::F64:
      return fn(TypeTag<double>{});
    case DType::I64:
      return fn(TypeTag<int64_t>{});
    case DType::I32:
      return fn(TypeTag<int32_t>{});
    case DType::U8:
      return fn(TypeTag<uint8_t>{});
    case DType::F16:
      return fn(TypeTag<__half>{});
    case DType::BF16:
      return fn(TypeTag<__nv_bfloat16>{});
  }
  AFN_FAIL(op, ": unknown dtype ", int(t));
}

}  // namespace afinar::cuda
