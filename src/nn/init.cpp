// torch.nn.init's formulas on afinar's Philox draws; see include/afinar/nn/init.h.
#include "afinar/nn/init.h"

#include <cmath>

#include "afinar/autograd/grad_mode.h"
#include "afinar/core/check.h"
#include "afinar/ops/fill.h"

namespace afinar::nn::init {

namespace {

thread_local bool skip_init = false;

// Runs a random-fill kernel (ops/fill.h) into t itself when t is contiguous, as the factories
// do into a fresh tensor: no temporary, and the same counters, so uniform_(t, a, b) gives the
// values uniform(t.shape(), a, b) would at the same generator state.
template <typename Table>
void fill_random(const Tensor& t, Table& kernels, double a, double b, Generator& gen) {
  const Tensor dst = t.is_contiguous() ? t : empty(t.shape(), t.dtype(), t.device());
  kernels.get(dst.device())(dst, a, b, gen.seed(),
                            gen.draw_offset(ops::random_blocks(dst.numel(), dst.dtype())));
  if (dst.is_same(t)) return;
  NoGradGuard no_grad;
  Tensor(t).copy_(dst);
}

double kaiming_std(const Tensor& t, double a, FanMode mode, Nonlinearity nonlinearity) {
  const Fans fans = calculate_fans(t.shape());
  const int64_t fan = mode == FanMode::FanIn ? fans.fan_in : fans.fan_out;
  AFN_CHECK(fan > 0, "kaiming init: the weight ", t.shape(), " has a zero fan");
  return calculate_gain(nonlinearity, a) / std::sqrt(double(fan));
}

}  // namespace

Fans calculate_fans(const Shape& weight_shape) {
  AFN_CHECK(weight_shape.size() >= 2, "fan in and fan out need a weight of at least 2 dims, got ",
            weight_shape);
  int64_t receptive = 1;
  for (size_t d = 2; d < weight_shape.size(); ++d) receptive *= weight_shape[d];
  return {weight_shape[1] * receptive, weight_shape[0] * receptive};
}

double calculate_gain(Nonlinearity nonlinearity, double param) {
  switch (nonlinearity) {
    case Nonlinearity::Linear:
      return 1.0;
    case Nonlinearity::ReLU:
      return std::sqrt(2.0);
    case Nonlinearity::LeakyReLU:
      return std::sqrt(2.0 / (1.0 + param * param));
  }
  AFN_FAIL("calculate_gain: unknown nonlinearity");
}

void uniform_(const Tensor& t, double low, double high, Generator& gen) {
  if (skip_init) return;
  AFN_CHECK(low <= high, "uniform_: low (", low, ") must not exceed high (", high, ")");
  fill_random(t, ops::uniform_kernels(), low, high, gen);
}

void normal_(const Tensor& t, double mean, double std, Generator& gen) {
  if (skip_init) return;
  AFN_CHECK(std >= 0, "normal_: std must not be negative, got ", std);
  fill_random(t, ops::normal_kernels(), mean, std, gen);
}

void constant_(const Tensor& t, double value) {
  if (skip_init) return;
  NoGradGuard no_grad;
  Tensor(t).fill_(value);
}

void kaiming_uniform_(const Tensor& t, double a, FanMode mode, Nonlinearity nonlinearity,
                      Generator& gen) {
  const double bound = std::sqrt(3.0) * kaiming_std(t, a, mode, nonlinearity);
  uniform_(t, -bound, bound, gen);
}

void kaiming_normal_(const Tensor& t, double a, FanMode mode, Nonlinearity nonlinearity,
                     Generator& gen) {
  normal_(t, 0.0, kaiming_std(t, a, mode, nonlinearity), gen);
}

SkipInitGuard::SkipInitGuard() : previous_(skip_init) {
  skip_init = true;
}

SkipInitGuard::~SkipInitGuard() {
  skip_init = previous_;
}

}  // namespace afinar::nn::init
