// The C++ element types of the CUDA backend: afinar's CPU types plus __half and __nv_bfloat16.
// For the .cpp wrappers that turn Tensors into kernel launches.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <utility>

#include "afinar/core/dtype.h"

namespace afinar::cuda {

// Calls fn(TypeTag<T>{}) for every dtype the CUDA backend stores: the CPU's five, plus the two
// 16-bit floating types.
template <typename Fn>
decltype(auto) visit_dtype(DType t, const char* op, Fn&& fn) {
  if (t == DType::F16) return fn(TypeTag<__half>{});
  if (t == DType::BF16) return fn(TypeTag<__nv_bfloat16>{});
  return visit_cpu_dtype(t, op, std::forward<Fn>(fn));
}

}  // namespace afinar::cuda
