#include "afinar/core/rng.h"

#include <cmath>

#include "afinar/core/check.h"

namespace afinar {

Generator& default_generator() {
  static Generator g(0);
  return g;
}

void manual_seed(uint64_t seed) {
  default_generator().set_state(seed, 0);
}

double draw_uniform(Generator& gen, double low, double high) {
  const Philox4 block = philox_block(gen.seed(), gen.draw_offset(1));
  return RandomValues<double>::uniform(block, 0, low, high - low);
}

int64_t draw_int(Generator& gen, int64_t low, int64_t high) {
  AFN_CHECK(low < high, "random integer: empty range [", low, ", ", high, ")");
  const Philox4 block = philox_block(gen.seed(), gen.draw_offset(1));
  const uint64_t bits = uint64_t(block.w[0]) << 32 | block.w[1];
  return low + int64_t(bits % uint64_t(high - low));
}

namespace {

// Gamma(k, 1), k >= 1: Marsaglia and Tsang's squeeze-and-reject loop (see rng.h). The normal
// takes words 0-3 of a block (Box-Muller), the uniform a fresh block's first pair: two blocks
// per try, and tries succeed over 95% of the time.
double draw_gamma_at_least_one(Generator& gen, double k) {
  const double d = k - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  while (true) {
    const double x =
        RandomValues<double>::normal(philox_block(gen.seed(), gen.draw_offset(1)), 0, 0.0, 1.0);
    const double t = 1.0 + c * x;
    if (t <= 0) continue;
    const double v = t * t * t;
    const double u = 1.0 - draw_uniform(gen, 0.0, 1.0);  // (0, 1]: log u is finite
    if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
  }
}

double draw_gamma(Generator& gen, double k) {
  if (k >= 1) return draw_gamma_at_least_one(gen, k);
  const double g = draw_gamma_at_least_one(gen, k + 1.0);
  const double u = 1.0 - draw_uniform(gen, 0.0, 1.0);
  return g * std::pow(u, 1.0 / k);
}

}  // namespace

double draw_beta(Generator& gen, double a, double b) {
  AFN_CHECK(a > 0 && b > 0 && std::isfinite(a) && std::isfinite(b),
            "Beta distribution: the shapes must be positive and finite, got a = ", a, ", b = ", b);
  const double x = draw_gamma(gen, a), y = draw_gamma(gen, b);
  // Both gammas can underflow to 0 for tiny shapes; the limit is a coin with P(1) = a / (a + b).
  if (x + y == 0) return draw_uniform(gen, 0.0, 1.0) < a / (a + b) ? 1.0 : 0.0;
  return x / (x + y);
}

}  // namespace afinar
