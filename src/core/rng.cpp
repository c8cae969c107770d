#include "afinar/core/rng.h"

#include <cmath>
#include <vector>

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

std::vector<double> draw_dirichlet(Generator& gen, const std::vector<double>& alpha) {
  AFN_CHECK(!alpha.empty(), "Dirichlet distribution: no concentration parameters");
  double alpha_sum = 0;
  for (double a : alpha) {
    AFN_CHECK(a > 0 && std::isfinite(a),
              "Dirichlet distribution: the concentrations must be positive and finite, got ", a);
    alpha_sum += a;
  }
  std::vector<double> x;
  double sum = 0;
  for (double a : alpha) sum += x.emplace_back(draw_gamma(gen, a));
  if (sum == 0) {
    // Every gamma can underflow to 0 for tiny shapes; the limit puts all the mass on component
    // i with probability alpha_i / sum(alpha).
    const double u = draw_uniform(gen, 0.0, 1.0) * alpha_sum;
    size_t i = 0;
    double below = alpha[0];
    while (i + 1 < alpha.size() && u >= below) below += alpha[++i];
    x[i] = 1;
    return x;
  }
  for (double& v : x) v /= sum;
  return x;
}

double draw_beta(Generator& gen, double a, double b) {
  AFN_CHECK(a > 0 && b > 0 && std::isfinite(a) && std::isfinite(b),
            "Beta distribution: the shapes must be positive and finite, got a = ", a, ", b = ", b);
  return draw_dirichlet(gen, {a, b})[0];
}

}  // namespace afinar
