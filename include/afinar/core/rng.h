// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11). A draw is a pure function
// of (seed, counter), so element i of a random tensor is the same whatever the thread count or
// device: a generator only hands out counter ranges, the values are computed where they are used.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "afinar/core/philox.h"

namespace afinar {

// One Philox4x32-10 block: 4 random 32-bit words from a 128-bit counter and a 64-bit key.
inline std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> c, uint64_t key) {
  const Philox4 r = philox4x32_10(c[0], c[1], c[2], c[3], key);
  return {r.w[0], r.w[1], r.w[2], r.w[3]};
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
    const Philox4 r = philox_block(seed_, block);
    return {r.w[0], r.w[1], r.w[2], r.w[3]};
  }

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// The process-wide default generator, seeded with manual_seed() (default seed 0).
Generator& default_generator();
void manual_seed(uint64_t seed);

// Host-side random draws, each from the next Philox block of `gen` (one block per draw, so a
// draw's value depends only on the generator's seed and offset).
// Uniform on [low, high) (torch.empty(1).uniform_(low, high)).
double draw_uniform(Generator& gen, double low, double high);
// Uniform integer on [low, high) (torch.randint(low, high)); 64 random bits reduced mod
// (high - low), a bias below (high - low)/2^64.
int64_t draw_int(Generator& gen, int64_t low, int64_t high);
// True with probability p (torch.rand(1) < p).
inline bool draw_bernoulli(Generator& gen, double p) {
  return draw_uniform(gen, 0.0, 1.0) < p;
}
// Beta(a, b) for a, b > 0 (numpy.random.beta's distribution, not its stream): X / (X + Y) with
// X ~ Gamma(a), Y ~ Gamma(b) drawn by Marsaglia and Tsang's method (ACM TOMS 26(3), 2000):
// for shape k >= 1, d = k - 1/3, c = 1/sqrt(9d), repeat x ~ N(0, 1), v = (1 + cx)^3 until
// v > 0 and log u < x²/2 + d - dv + d log v (u ~ U(0, 1)); then d·v. A shape k < 1 draws
// Gamma(k + 1)·u^(1/k). Each try uses two blocks (Box-Muller for x, one for u).
double draw_beta(Generator& gen, double a, double b);
// Dirichlet(alpha) for alpha_i > 0 (torch._sample_dirichlet's distribution, not its stream): a
// Gamma(alpha_i) draw per component, in order, divided by their sum. Beta(a, b) is component 0
// of Dirichlet(a, b), and draw_beta draws it so.
std::vector<double> draw_dirichlet(Generator& gen, const std::vector<double>& alpha);

}  // namespace afinar
