// The C++ element types of the CUDA backend: afinar's CPU types plus __half and __nv_bfloat16.
// For the .cpp wrappers that turn Tensors into kernel launches.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <utility>

#include "afinar/core/dtype.h"

namespace afinar {
// The CUDA types of the 16-bit dtypes, for Tensor::data_ptr<T>() in the backend.
template <>
struct DTypeOf<__nv_bfloat16> {
  static constexpr DType value = DType::BF16;
};
template <>
struct DTypeOf<__half> {
  static constexpr DType value = DType::F16;
};
}  // namespace afinar

namespace afinar::cuda {

// Calls fn(TypeTag<T>{}) for every dtype the CUDA backend stores: the CPU's integer and 32/64-bit
// floating types, and the two 16-bit floating types as CUDA's own (bf16 is __nv_bfloat16 here,
// not the CPU's BFloat16: the same bits with device arithmetic).
template <typename Fn>
decltype(auto) visit_dtype(DType t, const char* op, Fn&& fn) {
  return visit_stored_dtype<__nv_bfloat16, __half>(t, op, "CUDA implementation",
                                                   std::forward<Fn>(fn));
}

// Calls fn(TypeTag<T>{}) for the two 16-bit floating types as CUDA's own: __nv_bfloat16 (bf16)
// and __half (f16), autocast's activations (computed in float, compute_type.h).
template <typename Fn>
decltype(auto) visit_16bit(DType t, const char* op, Fn&& fn) {
  if (t == DType::BF16) return fn(TypeTag<__nv_bfloat16>{});
  if (t == DType::F16) return fn(TypeTag<__half>{});
  AFN_FAIL(op, ": dtype ", t, " is not a 16-bit floating type (bfloat16, float16)");
}

// Calls fn(TypeTag<T>{}) for the floating types a CUDA kernel computes: float, double and, for
// autocast, __nv_bfloat16 and __half (computed in float).
template <typename Fn>
decltype(auto) visit_floating_or_16bit(DType t, const char* op, Fn&& fn) {
  if (is_reduced_float(t)) return visit_16bit(t, op, std::forward<Fn>(fn));
  return visit_floating(t, op, std::forward<Fn>(fn));
}

}  // namespace afinar::cuda
