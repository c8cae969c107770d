#include "afinar/core/dtype.h"

namespace afinar {

size_t element_size(DType t) {
  switch (t) {
    case DType::F32:
      return 4;
    case DType::F64:
      return 8;
    case DType::I64:
      return 8;
    case DType::I32:
      return 4;
    case DType::U8:
      return 1;
    case DType::BF16:
      return 2;
    case DType::F16:
      return 2;
  }
  AFN_FAIL("element_size: unknown dtype ", static_cast<int>(t));
}

std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "float32";
    case DType::F64:
      return "float64";
    case DType::I64:
      return "int64";
    case DType::I32:
      return "int32";
    case DType::U8:
      return "uint8";
    case DType::BF16:
      return "bfloat16";
    case DType::F16:
      return "float16";
  }
  return "unknown";
}

bool is_floating(DType t) {
  return t == DType::F32 || t == DType::F64 || t == DType::BF16 || t == DType::F16;
}

}  // namespace afinar
