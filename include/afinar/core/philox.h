// Philox4x32-10 (Salmon et al., SC'11), usable from host and device code alike, so a random
// tensor made on the GPU holds the same draws as one made on the CPU. Constants from Random123.
#pragma once

#include <math.h>

#include <cstdint>

#if defined(__CUDACC__)
#define AFN_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define AFN_HOST_DEVICE inline
#endif

namespace afinar {

struct Philox4 {
  uint32_t w[4];
};

// One block: 4 random 32-bit words from a 128-bit counter (c0 lowest) and a 64-bit key.
AFN_HOST_DEVICE Philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                                      uint64_t key) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t(kMul0) * c0;
    const uint64_t p1 = uint64_t(kMul1) * c2;
    const uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0, n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
    c1 = uint32_t(p1);
    c3 = uint32_t(p0);
    c0 = n0;
    c2 = n2;
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return {{c0, c1, c2, c3}};
}

// Block number `block` of the stream with key `seed` (the counter's upper words are zero).
AFN_HOST_DEVICE Philox4 philox_block(uint64_t seed, uint64_t block) {
  return philox4x32_10(uint32_t(block), uint32_t(block >> 32), 0, 0, seed);
}

// 32 random bits -> float in (0, 1] (never 0, so log() is safe), 24 bits of precision.
AFN_HOST_DEVICE float uint_to_unit_float(uint32_t x) {
  return (float(x >> 8) + 1.0f) * (1.0f / 16777216.0f);
}
// 64 random bits -> double in (0, 1], 53 bits of precision.
AFN_HOST_DEVICE double uint_to_unit_double(uint32_t hi, uint32_t lo) {
  const uint64_t v = (uint64_t(hi) << 32 | lo) >> 11;
  return (double(v) + 1.0) * (1.0 / 9007199254740992.0);
}

// Values of random tensors: element i of a float tensor is value i % 4 of block offset + i / 4;
// a double tensor uses two words per uniform, so 2 values per block. The same functions run on
// the CPU and the GPU, so both devices draw the same numbers (up to the last ulp of log/sin/cos).
template <typename T>
struct RandomValues;

template <>
struct RandomValues<float> {
  static constexpr int kPerBlock = 4;
  // Uniform on [low, low + span): u in (0, 1], so 1 - u in [0, 1) as in PyTorch.
  AFN_HOST_DEVICE static float uniform(const Philox4& b, int k, float low, float span) {
    return low + span * (1.0f - uint_to_unit_float(b.w[k]));
  }
  // Box-Muller on the pair of words (2*(k/2), 2*(k/2)+1): r cos θ for even k, r sin θ for odd.
  AFN_HOST_DEVICE static float normal(const Philox4& b, int k, float mean, float std) {
    const int pair = k / 2;
    const float r = sqrtf(-2.0f * logf(uint_to_unit_float(b.w[2 * pair])));
    const float theta = 6.2831853071795864769f * uint_to_unit_float(b.w[2 * pair + 1]);
    return mean + std * r * (k % 2 ? sinf(theta) : cosf(theta));
  }
};

template <>
struct RandomValues<double> {
  static constexpr int kPerBlock = 2;
  AFN_HOST_DEVICE static double uniform(const Philox4& b, int k, double low, double span) {
    return low + span * (1.0 - uint_to_unit_double(b.w[2 * k], b.w[2 * k + 1]));
  }
  AFN_HOST_DEVICE static double normal(const Philox4& b, int k, double mean, double std) {
    const double r = sqrt(-2.0 * log(uint_to_unit_double(b.w[0], b.w[1])));
    const double theta = 6.283185307179586476925 * uint_to_unit_double(b.w[2], b.w[3]);
    return mean + std * r * (k ? sin(theta) : cos(theta));
  }
};

}  // namespace afinar
