// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11). A draw is a pure function
// of (seed, counter), so element i of a random tensor is the same whatever the thread count or
// device: a generator only hands out counter ranges, the values are computed where they are used.
#pragma once

#include <array>
#include <cstdint>

namespace afinar {

// One Philox4x32-10 block: 4 random 32-bit words from a 128-bit counter and a 64-bit key.
std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter, uint64_t key);

// Maps 32 random bits to a float in (0, 1] (never 0, so log() is safe) with 24 bits of precision.
inline float uint_to_unit_float(uint32_t x) {
  return (float(x >> 8) + 1.0f) * (1.0f / 16777216.0f);
}
// Maps 64 random bits to a double in (0, 1] with 53 bits of precision.
inline double uint_to_unit_double(uint32_t hi, uint32_t lo) {
  uint64_t v = (uint64_t(hi) << 32 | lo) >> 11;
  return (double(v) + 1.0) * (1.0 / 9007199254740992.0);
}

// A seeded stream of Philox counters. draw_offset(n) reserves n 128-bit blocks and returns where
// they start; ops then compute their values independently from (seed, offset + block).
class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) {
    seed_ = seed;
    offset_ = offset;
  }
  uint64_t draw_offset(uint64_t blocks) {
    uint64_t o = offset_;
    offset_ += blocks;
    return o;
  }
  // The 4 words of block number `block` of this generator's stream (ignores the offset).
  std::array<uint32_t, 4> block(uint64_t block) const {
    return philox4x32({uint32_t(block), uint32_t(block >> 32), 0, 0}, seed_);
  }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// The process-wide default generator, seeded with manual_seed() (default seed 0).
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace afinar
