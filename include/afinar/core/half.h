// float16 on the CPU: the storage type of DType::F16 (IEEE 754 binary16: sign, 5 exponent bits
// with bias 15, 10 mantissa bits; largest finite 65504, subnormals down to 2^-24), converted
// exactly as PyTorch's c10::Half does:
//   float -> half   round to nearest, ties to even; magnitudes from 65520 (halfway between 65504
//                   and 2^16) round to ±inf; below 2^-14 to the subnormals (2^-25 and less to
//                   ±0); NaN becomes the quiet NaN 0x7E00 with the sign kept
//   double -> half  through float first, as PyTorch (c10::Half takes a float)
//   half -> float   exact
// Integer arithmetic only, so the result never depends on the compiler's floating-point
// contraction. Arithmetic goes through float (the conversion operator), as PyTorch's CPU kernels
// do. The CUDA backend stores the same bits as __half.
#pragma once

#include <cstdint>
#include <cstring>

namespace afinar {

struct Half {
  uint16_t bits = 0;

  Half() = default;
  // Implicit, as c10::Half: a float (or anything that converts to one) rounds to half.
  Half(float value) : bits(round_to_nearest_even(value)) {}  // NOLINT(google-explicit-*)
  operator float() const {                                   // NOLINT(google-explicit-*)
    const uint32_t sign = uint32_t(bits & 0x8000u) << 16;
    const uint32_t exponent = (bits >> 10) & 0x1Fu, mantissa = bits & 0x3FFu;
    uint32_t u;
    if (exponent == 0x1F) {  // ±inf, NaN (payload kept)
      u = sign | 0x7F800000u | (mantissa << 13);
    } else if (exponent != 0) {  // normal: rebias 15 -> 127
      u = sign | ((exponent + 112u) << 23) | (mantissa << 13);
    } else {  // ±0 and subnormals: mantissa · 2^-24, exact in float
      float f = float(mantissa) * 0x1p-24f;
      std::memcpy(&u, &f, sizeof u);
      u |= sign;
    }
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  }

  static Half from_bits(uint16_t b) {
    Half h;
    h.bits = b;
    return h;
  }

  static uint16_t round_to_nearest_even(float value) {
    uint32_t u;
    std::memcpy(&u, &value, sizeof u);
    const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
    const uint32_t a = u & 0x7FFFFFFFu;                           // |value|'s bits
    if (a > 0x7F800000u) return sign | 0x7E00u;                   // NaN
    if (a >= 0x477FF000u) return sign | 0x7C00u;                  // >= 65520: ±inf
    if (a <= 0x33000000u) return sign;                            // <= 2^-25: ±0
    const uint32_t e = a >> 23, m = (a & 0x7FFFFFu) | 0x800000u;  // float exponent, mantissa
    // The kept bits and the dropped remainder: normals drop 13 mantissa bits; subnormals
    // (|value| < 2^-14) are m · 2^(e-150) = (m >> (126 - e)) · 2^-24, so drop 126 - e bits.
    const uint32_t shift = e >= 113 ? 13u : 126u - e;
    uint32_t h = e >= 113 ? ((e - 112u) << 10) | ((m >> 13) & 0x3FFu) : m >> shift;
    const uint32_t rest = m & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
    // Ties to even; a carry out of the mantissa moves into the exponent, which is right.
    if (rest > halfway || (rest == halfway && (h & 1u))) ++h;
    return uint16_t(sign | h);
  }
};

}  // namespace afinar
