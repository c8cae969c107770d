// bfloat16 on the CPU: the storage type of DType::BF16 (the top 16 bits of an IEEE float32: sign,
// 8 exponent bits, 7 mantissa bits), converted exactly as PyTorch's c10::BFloat16 does:
//   float -> bf16   round to nearest, ties to even, on the 16 dropped bits; overflow rounds to
//                   ±inf; any NaN becomes a quiet NaN (0x7FC0, c10's scalar conversion; PyTorch's
//                   vectorised tensor conversion writes 0xFFFF: the payload carries no meaning)
//   double -> bf16  through float first, as PyTorch (so 1 + 2^-8 + 2^-30 ties to 1.0)
//   bf16 -> float   exact (the bits shifted back up)
// Arithmetic goes through float (the conversion operator), as PyTorch's CPU kernels do. The CUDA
// backend stores the same bits as __nv_bfloat16 (its NaN is 0x7FFF: another NaN, same meaning).
#pragma once

#include <cstdint>
#include <cstring>

namespace afinar {

struct BFloat16 {
  uint16_t bits = 0;

  BFloat16() = default;
  // Implicit, as c10::BFloat16: a float (or anything that converts to one) rounds to bf16.
  BFloat16(float value) : bits(round_to_nearest_even(value)) {}  // NOLINT(google-explicit-*)
  operator float() const {                                       // NOLINT(google-explicit-*)
    const uint32_t u = uint32_t(bits) << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  }

  static BFloat16 from_bits(uint16_t b) {
    BFloat16 h;
    h.bits = b;
    return h;
  }

  static uint16_t round_to_nearest_even(float value) {
    if (value != value) return 0x7FC0;  // NaN
    uint32_t u;
    std::memcpy(&u, &value, sizeof u);
    // Adding 0x7FFF, plus 1 when the kept part is odd, carries into bit 16 exactly when the
    // dropped half is above 0x8000 or equal to it with an odd kept part.
    const uint32_t bias = 0x7FFFu + ((u >> 16) & 1u);
    return uint16_t((u + bias) >> 16);
  }
};

}  // namespace afinar
