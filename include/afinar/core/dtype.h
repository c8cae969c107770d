// Element types. f32 is the training type, f64 the gradient-check type on the CPU, i64/i32 hold
// labels and counters, u8 images; bf16 and f16 are mixed precision's types (stored and converted
// on both devices).
#pragma once

#include <cstdint>
#include <ostream>
#include <string_view>
#include <type_traits>
#include <utility>

#include "afinar/core/bfloat16.h"
#include "afinar/core/check.h"
#include "afinar/core/half.h"

namespace afinar {

enum class DType : uint8_t { F32, F64, I64, I32, U8, BF16, F16 };

size_t element_size(DType t);
std::string_view dtype_name(DType t);  // "float32", "float64", ... (PyTorch's names)
bool is_floating(DType t);
// bf16 and f16: the 16-bit floating dtypes, which are stored but computed in float32.
inline bool is_reduced_float(DType t) {
  return t == DType::BF16 || t == DType::F16;
}
inline std::ostream& operator<<(std::ostream& os, DType t) {
  return os << dtype_name(t);
}

// The C++ type of each dtype the CPU implements, and back.
template <typename T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::F32;
};
template <>
struct DTypeOf<double> {
  static constexpr DType value = DType::F64;
};
template <>
struct DTypeOf<int64_t> {
  static constexpr DType value = DType::I64;
};
template <>
struct DTypeOf<int32_t> {
  static constexpr DType value = DType::I32;
};
template <>
struct DTypeOf<uint8_t> {
  static constexpr DType value = DType::U8;
};
template <>
struct DTypeOf<BFloat16> {
  static constexpr DType value = DType::BF16;
};
template <>
struct DTypeOf<Half> {
  static constexpr DType value = DType::F16;
};
template <typename T>
inline constexpr DType dtype_of = DTypeOf<T>::value;

template <typename T>
struct TypeTag {
  using type = T;
};

// Calls fn(TypeTag<T>{}) for the floating dtypes the CPU reference computes in (f32, f64):
//   visit_floating(x.dtype(), "relu", [&](auto tag) { using T = typename decltype(tag)::type; ...
//   });
template <typename Fn>
decltype(auto) visit_floating(DType t, const char* op, Fn&& fn) {
  switch (t) {
    case DType::F32:
      return fn(TypeTag<float>{});
    case DType::F64:
      return fn(TypeTag<double>{});
    default:
      break;
  }
  AFN_FAIL(op, ": dtype ", t, " is not supported on the CPU; use float32 or float64");
}

// Calls fn(TypeTag<T>{}) for every stored dtype, with the element types a device stores its 16-bit
// floating dtypes in (void: not stored there); `what` ends the error for the others ("CPU
// implementation (CPU: ...)").
// The CPU's visit_cpu_dtype below; the CUDA backend's visit_dtype (kernels/runtime/
// dtype_dispatch.h) passes __nv_bfloat16 and __half.
template <typename BF16, typename F16, typename Fn>
decltype(auto) visit_stored_dtype(DType t, const char* op, const char* what, Fn&& fn) {
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
    case DType::BF16:
      if constexpr (!std::is_void_v<BF16>) return fn(TypeTag<BF16>{});
      break;
    case DType::F16:
      if constexpr (!std::is_void_v<F16>) return fn(TypeTag<F16>{});
      break;
  }
  AFN_FAIL(op, ": dtype ", t, " has no ", what);
}

// Calls fn(TypeTag<T>{}) for every dtype the CPU stores and converts (f32, f64, i64, i32, u8,
// bf16, f16): fills and copies between dtypes.
template <typename Fn>
decltype(auto) visit_cpu_dtype(DType t, const char* op, Fn&& fn) {
  return visit_stored_dtype<BFloat16, Half>(
      t, op, "CPU implementation (CPU: float32, float64, int64, int32, uint8, bfloat16, float16)",
      std::forward<Fn>(fn));
}

}  // namespace afinar
